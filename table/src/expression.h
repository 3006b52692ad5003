// DynamoDB expressions: a hand-written tokenizer and recursive-descent parser for condition,
// filter and key-condition expressions, update expressions and projection expressions, and
// their evaluation on items in wire form. Placeholders (#name, :value) are resolved while
// parsing, and the context records which were used so the caller can reject unused ones.
// Thread-compatible; parsed trees are plain values.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "value.h"

namespace haneul::table {

struct PathElement {
  std::string name;
  int index = -1;  // >= 0: a list index; otherwise a map key / attribute name
};
using Path = std::vector<PathElement>;
// "[a, b, [2]]", as DynamoDB prints paths in messages.
std::string PathText(const Path& path);

struct Operand {
  enum class Kind { kPath, kValue, kSize, kIfNotExists, kListAppend, kPlus, kMinus };
  Kind kind = Kind::kValue;
  Path path;
  json value;
  std::vector<Operand> args;
};

struct Condition {
  enum class Kind { kCompare, kBetween, kIn, kAnd, kOr, kNot, kFunction };
  Kind kind = Kind::kCompare;
  std::string op;  // "=", "<>", "<", "<=", ">", ">=" or the function name
  std::vector<Operand> operands;
  std::vector<Condition> children;
};

struct UpdateAction {
  enum class Kind { kSet, kRemove, kAdd, kDelete };
  Kind kind = Kind::kSet;
  Path path;
  Operand value;
};

// Placeholder tables of one request and which entries its expressions used.
class ExpressionContext {
 public:
  ExpressionContext(const json* names, const json* values) : names_(names), values_(values) {}
  // After every expression of the request is parsed: unused names/values are errors.
  MaybeError CheckUnused() const;

  const json* names_;
  const json* values_;
  std::set<std::string> used_names_;
  std::set<std::string> used_values_;
};

// `which` names the parameter in messages: "ConditionExpression", "FilterExpression", ...
MaybeError ParseCondition(std::string_view text, const char* which, ExpressionContext& context,
                          Condition* out);
MaybeError ParseUpdate(std::string_view text, ExpressionContext& context,
                       std::vector<UpdateAction>* out);
MaybeError ParseProjection(std::string_view text, ExpressionContext& context,
                           std::vector<Path>* out);

// The value at path in item (a top-level attribute map); nullptr when absent.
const json* ResolvePath(const json& item, const Path& path);
// True when the condition holds for the item (an empty object when there is no item).
bool EvaluateCondition(const Condition& condition, const json& item);
// Applies the actions to item in place (item is an attribute map).
MaybeError ApplyUpdate(const std::vector<UpdateAction>& actions, json* item);
// The item reduced to the given paths.
json ProjectItem(const json& item, const std::vector<Path>& paths);
// DynamoDB's reserved words (reserved_words.cc), case-insensitive.
bool IsReservedWord(std::string_view name);
// Whether two paths overlap (one is a prefix of the other).
bool PathsOverlap(const Path& a, const Path& b);

}  // namespace haneul::table
