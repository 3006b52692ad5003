// FilterPattern: a small recursive-descent parser per form, producing a tree that is matched
// against each message. Nesting is bounded (kMaxDepth) so a hostile pattern cannot exhaust the
// stack, and the space-delimited matcher memoises (column, word) pairs so `...` stays linear.
#include "filter_pattern.h"
#include "haneul/common/wildcard.h"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace haneul::invoker {

struct FilterPattern::Node {
  virtual ~Node() = default;
  virtual bool Matches(std::string_view message) const = 0;
};

namespace {

constexpr size_t kMaxPatternBytes = 1024;
constexpr int kMaxDepth = 32;

Status Invalid(const std::string& why) {
  return Status::InvalidArgument("Invalid filter pattern: " + why);
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }


std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

// ---- terms --------------------------------------------------------------------------------

struct TermsNode : FilterPattern::Node {
  std::vector<std::string> all;   // must each appear
  std::vector<std::string> none;  // must not appear
  std::vector<std::string> any;   // at least one must appear, when any are given
  bool Matches(std::string_view message) const override {
    for (const auto& term : all) {
      if (message.find(term) == std::string_view::npos) return false;
    }
    for (const auto& term : none) {
      if (message.find(term) != std::string_view::npos) return false;
    }
    if (any.empty()) return true;
    for (const auto& term : any) {
      if (message.find(term) != std::string_view::npos) return true;
    }
    return false;
  }
};

Result<std::shared_ptr<const FilterPattern::Node>> ParseTerms(std::string_view text) {
  auto node = std::make_shared<TermsNode>();
  size_t i = 0;
  while (i < text.size()) {
    if (IsSpace(text[i])) {
      ++i;
      continue;
    }
    char prefix = 0;
    if (text[i] == '?' || text[i] == '-') prefix = text[i++];
    std::string term;
    if (i < text.size() && text[i] == '"') {
      size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) return Invalid("unterminated quoted term");
      term = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      size_t start = i;
      while (i < text.size() && !IsSpace(text[i])) ++i;
      term = std::string(text.substr(start, i - start));
    }
    if (!term.empty() && term.front() == '%' && text.find('%', i) != std::string_view::npos) {
      return Invalid("regular expressions (%...%) are not supported");
    }
    if (term.size() >= 2 && term.front() == '%' && term.back() == '%') {
      return Invalid("regular expressions (%...%) are not supported");
    }
    if (term.empty()) {
      if (prefix != 0) return Invalid("an operator without a term");
      continue;  // "" alone: every event
    }
    if (prefix == '?') {
      node->any.push_back(std::move(term));
    } else if (prefix == '-') {
      node->none.push_back(std::move(term));
    } else {
      node->all.push_back(std::move(term));
    }
  }
  if (node->all.empty() && node->none.empty() && node->any.empty()) {
    return std::shared_ptr<const FilterPattern::Node>();
  }
  return std::shared_ptr<const FilterPattern::Node>(node);
}

// ---- tokens of the JSON and space-delimited forms --------------------------------------------

enum class Token { kEnd, kOpen, kClose, kAnd, kOr, kOperator, kWord, kString };

struct Lexeme {
  Token kind = Token::kEnd;
  std::string text;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<Lexeme> Next() {
    while (position_ < text_.size() && IsSpace(text_[position_])) ++position_;
    if (position_ >= text_.size()) return Lexeme{};
    char c = text_[position_];
    auto take = [&](Token kind, size_t length) {
      Lexeme lexeme{kind, std::string(text_.substr(position_, length))};
      position_ += length;
      return lexeme;
    };
    if (c == '(') return take(Token::kOpen, 1);
    if (c == ')') return take(Token::kClose, 1);
    if (text_.substr(position_, 2) == "&&") return take(Token::kAnd, 2);
    if (text_.substr(position_, 2) == "||") return take(Token::kOr, 2);
    for (std::string_view op : {"!=", "<=", ">=", "=", "<", ">"}) {
      if (text_.substr(position_, op.size()) == op) return take(Token::kOperator, op.size());
    }
    if (c == '"') {
      size_t close = text_.find('"', position_ + 1);
      if (close == std::string_view::npos) return Invalid("unterminated quoted value");
      Lexeme lexeme{Token::kString, std::string(text_.substr(position_ + 1, close - position_ - 1))};
      position_ = close + 1;
      return lexeme;
    }
    size_t start = position_;
    while (position_ < text_.size()) {
      char d = text_[position_];
      if (IsSpace(d) || d == '(' || d == ')' || d == '=' || d == '!' || d == '<' || d == '>' ||
          d == '&' || d == '|' || d == '"') {
        break;
      }
      ++position_;
    }
    if (position_ == start) return Invalid(std::string("unexpected '") + c + "'");
    return Lexeme{Token::kWord, std::string(text_.substr(start, position_ - start))};
  }

 private:
  std::string_view text_;
  size_t position_ = 0;
};

// A comparison's right-hand side.
struct Value {
  std::string text;
  std::optional<double> number;  // when the text is a number (and was not quoted)
};

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };

Op OpOf(const std::string& text) {
  if (text == "=") return Op::kEq;
  if (text == "!=") return Op::kNe;
  if (text == "<") return Op::kLt;
  if (text == "<=") return Op::kLe;
  if (text == ">") return Op::kGt;
  return Op::kGe;
}

bool CompareNumbers(double left, Op op, double right) {
  switch (op) {
    case Op::kEq: return left == right;
    case Op::kNe: return left != right;
    case Op::kLt: return left < right;
    case Op::kLe: return left <= right;
    case Op::kGt: return left > right;
    case Op::kGe: return left >= right;
  }
  return false;
}

// A text field against a value: numerically when both are numbers, else = and != by wildcard.
bool CompareText(std::string_view field, Op op, const Value& value) {
  if (value.number) {
    if (auto number = ParseNumber(field)) return CompareNumbers(*number, op, *value.number);
  }
  if (op == Op::kEq) return WildcardMatch(field, value.text);
  if (op == Op::kNe) return !WildcardMatch(field, value.text);
  return false;  // an ordering needs numbers
}

// ---- boolean trees over comparisons, shared by both forms -----------------------------------

template <typename Subject>
struct Expr {
  virtual ~Expr() = default;
  virtual bool Eval(const Subject& subject) const = 0;
};

template <typename Subject>
struct AndExpr : Expr<Subject> {
  std::unique_ptr<Expr<Subject>> left, right;
  bool Eval(const Subject& s) const override { return left->Eval(s) && right->Eval(s); }
};

template <typename Subject>
struct OrExpr : Expr<Subject> {
  std::unique_ptr<Expr<Subject>> left, right;
  bool Eval(const Subject& s) const override { return left->Eval(s) || right->Eval(s); }
};

// Parses `or := and (|| and)*`, `and := primary (&& primary)*`, `primary := ( or ) | leaf`,
// with the leaf parser given by the form.
template <typename Subject>
class BoolParser {
 public:
  using Leaf = std::function<Result<std::unique_ptr<Expr<Subject>>>(Lexer&, Lexeme)>;
  BoolParser(Lexer& lexer, Leaf leaf) : lexer_(lexer), leaf_(std::move(leaf)) {}

  // Parses up to (and returns) the first token that cannot continue the expression.
  Result<std::unique_ptr<Expr<Subject>>> Parse(Lexeme* stop) { return ParseOr(stop, 0); }

 private:
  Result<std::unique_ptr<Expr<Subject>>> ParseOr(Lexeme* next, int depth) {
    auto left = ParseAnd(next, depth);
    if (!left.ok()) return left.status();
    std::unique_ptr<Expr<Subject>> tree = std::move(*left);
    while (next->kind == Token::kOr) {
      auto right = ParseAnd(next, depth);
      if (!right.ok()) return right.status();
      auto node = std::make_unique<OrExpr<Subject>>();
      node->left = std::move(tree);
      node->right = std::move(*right);
      tree = std::move(node);
    }
    return tree;
  }

  Result<std::unique_ptr<Expr<Subject>>> ParseAnd(Lexeme* next, int depth) {
    auto left = ParsePrimary(next, depth);
    if (!left.ok()) return left.status();
    std::unique_ptr<Expr<Subject>> tree = std::move(*left);
    while (next->kind == Token::kAnd) {
      auto right = ParsePrimary(next, depth);
      if (!right.ok()) return right.status();
      auto node = std::make_unique<AndExpr<Subject>>();
      node->left = std::move(tree);
      node->right = std::move(*right);
      tree = std::move(node);
    }
    return tree;
  }

  // Reads its first token itself; leaves the token after it in *next.
  Result<std::unique_ptr<Expr<Subject>>> ParsePrimary(Lexeme* next, int depth) {
    if (depth > kMaxDepth) return Invalid("nested too deeply");
    auto first = lexer_.Next();
    if (!first.ok()) return first.status();
    if (first->kind == Token::kOpen) {
      auto inner = ParseOr(next, depth + 1);
      if (!inner.ok()) return inner.status();
      if (next->kind != Token::kClose) return Invalid("missing ')'");
      auto after = lexer_.Next();
      if (!after.ok()) return after.status();
      *next = std::move(*after);
      return inner;
    }
    auto leaf = leaf_(lexer_, std::move(*first));
    if (!leaf.ok()) return leaf.status();
    auto after = lexer_.Next();
    if (!after.ok()) return after.status();
    *next = std::move(*after);
    return leaf;
  }

  Lexer& lexer_;
  Leaf leaf_;
};

// Reads `op value` after a selector or a column name.
Result<std::pair<Op, Value>> ParseComparison(Lexer& lexer) {
  auto op = lexer.Next();
  if (!op.ok()) return op.status();
  if (op->kind != Token::kOperator) return Invalid("expected a comparison operator");
  auto value = lexer.Next();
  if (!value.ok()) return value.status();
  if (value->kind != Token::kWord && value->kind != Token::kString) {
    return Invalid("expected a value after " + op->text);
  }
  Value parsed{value->text, std::nullopt};
  if (value->kind == Token::kWord) parsed.number = ParseNumber(value->text);
  Op parsed_op = OpOf(op->text);
  if (parsed_op != Op::kEq && parsed_op != Op::kNe && !parsed.number) {
    return Invalid("'" + op->text + "' needs a number");
  }
  return std::make_pair(parsed_op, std::move(parsed));
}

// ---- JSON ---------------------------------------------------------------------------------

using Json = nlohmann::json;

struct Step {
  std::string key;     // member name, or empty for an index
  size_t index = 0;
};

Result<std::vector<Step>> ParseSelector(const std::string& text) {
  if (text.empty() || text[0] != '$') return Invalid("a JSON selector starts with $: " + text);
  std::vector<Step> steps;
  size_t i = 1;
  while (i < text.size()) {
    if (text[i] == '.') {
      size_t start = ++i;
      while (i < text.size() && text[i] != '.' && text[i] != '[') ++i;
      if (i == start) return Invalid("empty member in selector " + text);
      steps.push_back({text.substr(start, i - start), 0});
    } else if (text[i] == '[') {
      size_t close = text.find(']', i);
      if (close == std::string::npos) return Invalid("unclosed [ in selector " + text);
      size_t index = 0;
      auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + close, index);
      if (error != std::errc() || end != text.data() + close) {
        return Invalid("array index must be a number in selector " + text);
      }
      steps.push_back({"", index});
      i = close + 1;
    } else {
      return Invalid("unexpected character in selector " + text);
    }
  }
  if (steps.empty()) return Invalid("a selector names a field: " + text);
  return steps;
}

const Json* Select(const Json& document, const std::vector<Step>& steps) {
  const Json* at = &document;
  for (const Step& step : steps) {
    if (!step.key.empty()) {
      if (!at->is_object()) return nullptr;
      auto it = at->find(step.key);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else {
      if (!at->is_array() || step.index >= at->size()) return nullptr;
      at = &(*at)[step.index];
    }
  }
  return at;
}

enum class JsonTest { kCompare, kIsTrue, kIsFalse, kIsNull, kNotExists };

struct JsonLeaf : Expr<Json> {
  std::vector<Step> selector;
  JsonTest test = JsonTest::kCompare;
  Op op = Op::kEq;
  Value value;
  bool Eval(const Json& document) const override {
    const Json* field = Select(document, selector);
    switch (test) {
      case JsonTest::kNotExists: return field == nullptr;
      case JsonTest::kIsNull: return field != nullptr && field->is_null();
      case JsonTest::kIsTrue: return field != nullptr && field->is_boolean() && field->get<bool>();
      case JsonTest::kIsFalse:
        return field != nullptr && field->is_boolean() && !field->get<bool>();
      case JsonTest::kCompare: break;
    }
    if (field == nullptr) return false;
    if (field->is_number() && value.number) {
      return CompareNumbers(field->get<double>(), op, *value.number);
    }
    if (field->is_string()) return CompareText(field->get_ref<const std::string&>(), op, value);
    if (field->is_boolean() || field->is_number()) return CompareText(field->dump(), op, value);
    return false;  // objects, arrays and null compare with nothing
  }
};

Result<std::unique_ptr<Expr<Json>>> ParseJsonLeaf(Lexer& lexer, Lexeme first) {
  if (first.kind != Token::kWord) return Invalid("expected a $ selector");
  auto selector = ParseSelector(first.text);
  if (!selector.ok()) return selector.status();
  auto leaf = std::make_unique<JsonLeaf>();
  leaf->selector = std::move(*selector);
  // Peek: IS ..., NOT EXISTS, or an operator. The lexer cannot un-read, so copy it.
  Lexer probe = lexer;
  auto word = probe.Next();
  if (!word.ok()) return word.status();
  if (word->kind == Token::kWord && (word->text == "IS" || word->text == "NOT")) {
    auto what = probe.Next();
    if (!what.ok()) return what.status();
    if (word->text == "IS" && what->text == "TRUE") {
      leaf->test = JsonTest::kIsTrue;
    } else if (word->text == "IS" && what->text == "FALSE") {
      leaf->test = JsonTest::kIsFalse;
    } else if (word->text == "IS" && what->text == "NULL") {
      leaf->test = JsonTest::kIsNull;
    } else if (word->text == "NOT" && what->text == "EXISTS") {
      leaf->test = JsonTest::kNotExists;
    } else {
      return Invalid("expected IS TRUE, IS FALSE, IS NULL or NOT EXISTS");
    }
    lexer = probe;
    return std::unique_ptr<Expr<Json>>(std::move(leaf));
  }
  auto comparison = ParseComparison(lexer);
  if (!comparison.ok()) return comparison.status();
  leaf->op = comparison->first;
  leaf->value = std::move(comparison->second);
  return std::unique_ptr<Expr<Json>>(std::move(leaf));
}

struct JsonNode : FilterPattern::Node {
  std::unique_ptr<Expr<Json>> expr;
  bool Matches(std::string_view message) const override {
    Json document = Json::parse(message, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded() || !(document.is_object() || document.is_array())) return false;
    return expr->Eval(document);
  }
};

Result<std::shared_ptr<const FilterPattern::Node>> ParseJson(std::string_view text) {
  // text is "{ ... }".
  std::string_view inner = text.substr(1, text.size() - 2);
  Lexer lexer(inner);
  BoolParser<Json> parser(lexer, ParseJsonLeaf);
  Lexeme stop;
  auto expr = parser.Parse(&stop);
  if (!expr.ok()) return expr.status();
  if (stop.kind != Token::kEnd) return Invalid("unexpected '" + stop.text + "'");
  auto node = std::make_shared<JsonNode>();
  node->expr = std::move(*expr);
  return std::shared_ptr<const FilterPattern::Node>(node);
}

// ---- space-delimited -----------------------------------------------------------------------

struct WordLeaf : Expr<std::string_view> {
  Op op = Op::kEq;
  Value value;
  bool Eval(const std::string_view& word) const override { return CompareText(word, op, value); }
};

struct Column {
  bool ellipsis = false;
  std::string name;
  std::unique_ptr<Expr<std::string_view>> condition;  // null: any word
};

// Splits a message into words: runs of non-spaces, with "quoted" and [bracketed] runs kept whole
// (and their quotes or brackets removed).
std::vector<std::string_view> SplitWords(std::string_view message) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < message.size()) {
    if (IsSpace(message[i])) {
      ++i;
      continue;
    }
    char open = message[i];
    char close = open == '"' ? '"' : open == '[' ? ']' : 0;
    if (close != 0) {
      size_t end = message.find(close, i + 1);
      if (end != std::string_view::npos) {
        words.push_back(message.substr(i + 1, end - i - 1));
        i = end + 1;
        continue;
      }
    }
    size_t start = i;
    while (i < message.size() && !IsSpace(message[i])) ++i;
    words.push_back(message.substr(start, i - start));
  }
  return words;
}

struct SpaceNode : FilterPattern::Node {
  std::vector<Column> columns;
  bool Matches(std::string_view message) const override {
    std::vector<std::string_view> words = SplitWords(message);
    // memo[c][w]: 0 unknown, 1 matches, 2 does not (columns c.. against words w..).
    std::vector<std::vector<char>> memo(columns.size() + 1,
                                        std::vector<char>(words.size() + 1, 0));
    return Match(words, 0, 0, memo);
  }
  bool Match(const std::vector<std::string_view>& words, size_t c, size_t w,
             std::vector<std::vector<char>>& memo) const {
    if (c == columns.size()) return w == words.size();
    char& known = memo[c][w];
    if (known != 0) return known == 1;
    bool result = false;
    if (columns[c].ellipsis) {
      for (size_t k = w; k <= words.size() && !result; ++k) result = Match(words, c + 1, k, memo);
    } else if (w < words.size() &&
               (!columns[c].condition || columns[c].condition->Eval(words[w]))) {
      result = Match(words, c + 1, w + 1, memo);
    }
    known = result ? 1 : 2;
    return result;
  }
};

Result<std::shared_ptr<const FilterPattern::Node>> ParseSpaceDelimited(std::string_view text) {
  std::string_view inner = text.substr(1, text.size() - 2);
  auto node = std::make_shared<SpaceNode>();
  // Columns are separated by commas outside quotes.
  std::vector<std::string_view> parts;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= inner.size(); ++i) {
    if (i < inner.size() && inner[i] == '"') quoted = !quoted;
    if (i == inner.size() || (inner[i] == ',' && !quoted)) {
      parts.push_back(inner.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) return Invalid("unterminated quoted value");
  if (parts.size() > 256) return Invalid("too many columns");
  for (std::string_view part : parts) {
    size_t first = 0, last = part.size();
    while (first < last && IsSpace(part[first])) ++first;
    while (last > first && IsSpace(part[last - 1])) --last;
    part = part.substr(first, last - first);
    if (part.empty()) {
      if (parts.size() == 1) continue;  // "[]": no columns
      return Invalid("an empty column");
    }
    Column column;
    if (part == "...") {
      column.ellipsis = true;
      node->columns.push_back(std::move(column));
      continue;
    }
    Lexer lexer(part);
    auto name = lexer.Next();
    if (!name.ok()) return name.status();
    if (name->kind != Token::kWord) return Invalid("a column needs a name");
    column.name = name->text;
    Lexer probe = lexer;
    auto next = probe.Next();
    if (!next.ok()) return next.status();
    if (next->kind != Token::kEnd) {
      // `name op value [&&|| name op value ...]`: every comparison names this column.
      const std::string column_name = column.name;
      auto leaf = [&](Lexer& lexer, Lexeme lexeme) -> Result<std::unique_ptr<Expr<std::string_view>>> {
        if (lexeme.kind != Token::kWord || lexeme.text != column_name) {
          return Invalid("a condition in column " + column_name + " must name it");
        }
        auto comparison = ParseComparison(lexer);
        if (!comparison.ok()) return comparison.status();
        auto word = std::make_unique<WordLeaf>();
        word->op = comparison->first;
        word->value = std::move(comparison->second);
        return std::unique_ptr<Expr<std::string_view>>(std::move(word));
      };
      Lexer whole(part);  // re-read from the name, which the first leaf checks
      BoolParser<std::string_view> parser(whole, leaf);
      Lexeme stop;
      auto condition = parser.Parse(&stop);
      if (!condition.ok()) return condition.status();
      if (stop.kind != Token::kEnd) return Invalid("unexpected '" + stop.text + "'");
      column.condition = std::move(*condition);
    }
    node->columns.push_back(std::move(column));
  }
  return std::shared_ptr<const FilterPattern::Node>(node);
}

}  // namespace

Result<FilterPattern> FilterPattern::Parse(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return Invalid("longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  }
  size_t first = 0, last = pattern.size();
  while (first < last && IsSpace(pattern[first])) ++first;
  while (last > first && IsSpace(pattern[last - 1])) --last;
  std::string_view text = pattern.substr(first, last - first);
  Result<std::shared_ptr<const Node>> root = std::shared_ptr<const Node>();
  if (text.empty()) {
    // every event
  } else if (text.front() == '{') {
    if (text.back() != '}') return Invalid("a JSON pattern ends with }");
    root = ParseJson(text);
  } else if (text.front() == '[') {
    if (text.back() != ']') return Invalid("a space-delimited pattern ends with ]");
    root = ParseSpaceDelimited(text);
  } else {
    root = ParseTerms(text);
  }
  if (!root.ok()) return root.status();
  FilterPattern parsed;
  parsed.root_ = std::move(*root);
  return parsed;
}

bool FilterPattern::Matches(std::string_view message) const {
  return root_ == nullptr || root_->Matches(message);
}

}  // namespace haneul::invoker
