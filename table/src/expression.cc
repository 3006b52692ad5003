// Expression parsing and evaluation; see expression.h.
// Grammar (precedence low to high: OR, AND, NOT, comparisons/BETWEEN/IN/functions):
//   condition := and {OR and};  and := not {AND not};  not := NOT not | primary
//   primary   := '(' condition ')' | function '(' operands ')' | operand comparator operand
//              | operand BETWEEN operand AND operand | operand IN '(' operand {',' operand} ')'
//   operand   := path | :value | size '(' path ')'
//   update    := {SET set {',' set} | REMOVE path {',' path} | ADD path :v {..} | DELETE path :v
//   {..}} set       := path '=' term [('+'|'-') term];  term := path | :value
//              | if_not_exists '(' path ',' term ')' | list_append '(' term ',' term ')'
#include "expression.h"

#include <algorithm>
#include <cctype>

#include "number.h"

namespace haneul::table {

namespace {

constexpr size_t kMaxExpressionLength = 4096;

enum class TokenKind { kName, kNamePlaceholder, kValuePlaceholder, kNumber, kSymbol, kEnd };

struct Token {
  TokenKind kind;
  std::string text;
  size_t position;
};

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::string which, ExpressionContext& context)
      : text_(text), which_(std::move(which)), context_(context) {}

  MaybeError Tokenize() {
    if (text_.size() > kMaxExpressionLength) {
      return Invalid("Expression size has exceeded the maximum allowed size; expression size: " +
                     std::to_string(text_.size()));
    }
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      size_t start = i;
      if (c == '#' || c == ':') {
        ++i;
        while (i < text_.size() && IsNameChar(text_[i])) ++i;
        if (i == start + 1) return SyntaxError(std::string(1, c), start);
        tokens_.push_back({c == '#' ? TokenKind::kNamePlaceholder : TokenKind::kValuePlaceholder,
                           std::string(text_.substr(start, i - start)), start});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        while (i < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i]))) ++i;
        tokens_.push_back({TokenKind::kNumber, std::string(text_.substr(start, i - start)), start});
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        while (i < text_.size() && IsNameChar(text_[i])) ++i;
        tokens_.push_back({TokenKind::kName, std::string(text_.substr(start, i - start)), start});
      } else if (c == '<' && i + 1 < text_.size() && (text_[i + 1] == '=' || text_[i + 1] == '>')) {
        tokens_.push_back({TokenKind::kSymbol, std::string(text_.substr(i, 2)), start});
        i += 2;
      } else if (c == '>' && i + 1 < text_.size() && text_[i + 1] == '=') {
        tokens_.push_back({TokenKind::kSymbol, ">=", start});
        i += 2;
      } else if (std::string_view("=<>(),.[]+-").find(c) != std::string_view::npos) {
        tokens_.push_back({TokenKind::kSymbol, std::string(1, c), start});
        ++i;
      } else {
        return SyntaxError(std::string(1, c), start);
      }
    }
    tokens_.push_back({TokenKind::kEnd, "<EOF>", text_.size()});
    return std::nullopt;
  }

  MaybeError ParseConditionTop(Condition* out) {
    TABLE_TRY(Tokenize());
    if (tokens_.size() == 1) return Invalid("The expression can not be empty;");
    TABLE_TRY(ParseOr(out, 0));
    if (Peek().kind != TokenKind::kEnd) return SyntaxAt(pos_);
    return std::nullopt;
  }

  MaybeError ParseUpdateTop(std::vector<UpdateAction>* out) {
    TABLE_TRY(Tokenize());
    if (tokens_.size() == 1) return Invalid("The expression can not be empty;");
    std::set<std::string> sections;
    while (Peek().kind != TokenKind::kEnd) {
      const Token& keyword = Peek();
      std::string upper;
      for (char c : keyword.text) upper.push_back(static_cast<char>(std::toupper(c)));
      if (keyword.kind != TokenKind::kName ||
          (upper != "SET" && upper != "REMOVE" && upper != "ADD" && upper != "DELETE")) {
        return SyntaxAt(pos_);
      }
      if (!sections.insert(upper).second) {
        return Invalid("The \"" + upper +
                       "\" section can only be used once in an update expression;");
      }
      ++pos_;
      do {
        UpdateAction action;
        TABLE_TRY(ParsePath(&action.path));
        if (upper == "SET") {
          action.kind = UpdateAction::Kind::kSet;
          if (!Accept("=")) return SyntaxAt(pos_);
          TABLE_TRY(ParseSetValue(&action.value));
        } else if (upper == "REMOVE") {
          action.kind = UpdateAction::Kind::kRemove;
        } else {
          action.kind = upper == "ADD" ? UpdateAction::Kind::kAdd : UpdateAction::Kind::kDelete;
          if (Peek().kind != TokenKind::kValuePlaceholder) return SyntaxAt(pos_);
          TABLE_TRY(ParseOperand(&action.value, false));
          const std::string& type = TypeOf(action.value.value);
          bool ok = upper == "ADD" ? (type == "N" || type == "SS" || type == "NS" || type == "BS")
                                   : (type == "SS" || type == "NS" || type == "BS");
          if (!ok) {
            return Invalid("Incorrect operand type for operator or function; operator: " + upper +
                           ", operand type: " + TypeName(type));
          }
        }
        out->push_back(std::move(action));
      } while (Accept(","));
    }
    for (size_t i = 0; i < out->size(); ++i) {
      for (size_t j = i + 1; j < out->size(); ++j) {
        if (PathsOverlap((*out)[i].path, (*out)[j].path)) {
          return Invalid(
              "Two document paths overlap with each other; must remove or rewrite one of these "
              "paths; path one: " +
              PathText((*out)[i].path) + ", path two: " + PathText((*out)[j].path));
        }
      }
    }
    return std::nullopt;
  }

  MaybeError ParseProjectionTop(std::vector<Path>* out) {
    TABLE_TRY(Tokenize());
    if (tokens_.size() == 1) return Invalid("The expression can not be empty;");
    do {
      Path path;
      TABLE_TRY(ParsePath(&path));
      out->push_back(std::move(path));
    } while (Accept(","));
    if (Peek().kind != TokenKind::kEnd) return SyntaxAt(pos_);
    for (size_t i = 0; i < out->size(); ++i) {
      for (size_t j = i + 1; j < out->size(); ++j) {
        if (PathsOverlap((*out)[i], (*out)[j])) {
          return Invalid(
              "Two document paths overlap with each other; must remove or rewrite one of these "
              "paths; path one: " +
              PathText((*out)[i]) + ", path two: " + PathText((*out)[j]));
        }
      }
    }
    return std::nullopt;
  }

 private:
  static std::string TypeName(const std::string& type) {
    static const std::map<std::string, std::string> kNames = {
        {"S", "STRING"}, {"N", "NUMBER"}, {"B", "BINARY"}, {"BOOL", "BOOLEAN"}, {"NULL", "NULL"},
        {"L", "LIST"},   {"M", "MAP"},    {"SS", "SET"},   {"NS", "SET"},       {"BS", "SET"}};
    auto it = kNames.find(type);
    return it == kNames.end() ? type : it->second;
  }

  ApiError Invalid(const std::string& message) const {
    return ApiError::Validation("Invalid " + which_ + ": " + message);
  }
  ApiError SyntaxError(const std::string& token, size_t position) const {
    size_t from = position >= 10 ? position - 10 : 0;
    return Invalid("Syntax error; token: \"" + token + "\", near: \"" +
                   std::string(text_.substr(from, std::min<size_t>(30, text_.size() - from))) +
                   "\"");
  }
  ApiError SyntaxAt(size_t index) const {
    const Token& token = tokens_[std::min(index, tokens_.size() - 1)];
    return SyntaxError(token.text, token.position);
  }

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool IsSymbol(std::string_view symbol, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kSymbol && Peek(ahead).text == symbol;
  }
  bool Accept(std::string_view symbol) {
    if (!IsSymbol(symbol)) return false;
    ++pos_;
    return true;
  }
  bool IsKeyword(std::string_view word, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kName && EqualsIgnoreCase(Peek(ahead).text, word);
  }

  MaybeError CountOperator() {
    if (++operators_ > 300) {
      return Invalid("The expression contains too many operators; operator count: 301");
    }
    return std::nullopt;
  }

  MaybeError ParseOr(Condition* out, int depth) {
    Condition left;
    TABLE_TRY(ParseAnd(&left, depth));
    while (IsKeyword("OR")) {
      ++pos_;
      TABLE_TRY(CountOperator());
      Condition right;
      TABLE_TRY(ParseAnd(&right, depth));
      Condition node;
      node.kind = Condition::Kind::kOr;
      node.children.push_back(std::move(left));
      node.children.push_back(std::move(right));
      left = std::move(node);
    }
    *out = std::move(left);
    return std::nullopt;
  }

  MaybeError ParseAnd(Condition* out, int depth) {
    Condition left;
    TABLE_TRY(ParseNot(&left, depth));
    while (IsKeyword("AND")) {
      ++pos_;
      TABLE_TRY(CountOperator());
      Condition right;
      TABLE_TRY(ParseNot(&right, depth));
      Condition node;
      node.kind = Condition::Kind::kAnd;
      node.children.push_back(std::move(left));
      node.children.push_back(std::move(right));
      left = std::move(node);
    }
    *out = std::move(left);
    return std::nullopt;
  }

  MaybeError ParseNot(Condition* out, int depth) {
    if (depth > 100) return Invalid("The expression has too many nested levels;");
    if (IsKeyword("NOT")) {
      ++pos_;
      TABLE_TRY(CountOperator());
      Condition child;
      TABLE_TRY(ParseNot(&child, depth + 1));
      out->kind = Condition::Kind::kNot;
      out->children.push_back(std::move(child));
      return std::nullopt;
    }
    return ParsePrimary(out, depth);
  }

  MaybeError ParsePrimary(Condition* out, int depth) {
    if (Accept("(")) {
      TABLE_TRY(ParseOr(out, depth + 1));
      if (!Accept(")")) return SyntaxAt(pos_);
      return std::nullopt;
    }
    if (Peek().kind == TokenKind::kName && IsSymbol("(", 1) && !IsKeyword("size")) {
      std::string function = Peek().text;
      static const std::set<std::string> kFunctions = {"attribute_exists", "attribute_not_exists",
                                                       "attribute_type", "begins_with", "contains"};
      if (!kFunctions.count(function)) {
        if (function == "if_not_exists" || function == "list_append") {
          return Invalid(
              "The function is not allowed to be used this way in an expression; "
              "function: " +
              function);
        }
        return Invalid("Invalid function name; function: " + function);
      }
      pos_ += 2;
      TABLE_TRY(CountOperator());
      out->kind = Condition::Kind::kFunction;
      out->op = function;
      if (!IsSymbol(")")) {
        do {
          Operand operand;
          TABLE_TRY(ParseOperand(&operand, true));
          out->operands.push_back(std::move(operand));
        } while (Accept(","));
      }
      if (!Accept(")")) return SyntaxAt(pos_);
      return CheckFunction(*out);
    }
    Operand left;
    TABLE_TRY(ParseOperand(&left, true));
    if (IsKeyword("BETWEEN")) {
      ++pos_;
      TABLE_TRY(CountOperator());
      out->kind = Condition::Kind::kBetween;
      out->op = "BETWEEN";
      Operand low, high;
      TABLE_TRY(ParseOperand(&low, true));
      if (!IsKeyword("AND")) return SyntaxAt(pos_);
      ++pos_;
      TABLE_TRY(ParseOperand(&high, true));
      if (low.kind == Operand::Kind::kValue && high.kind == Operand::Kind::kValue) {
        auto order = CompareValues(low.value, high.value);
        if (order && *order > 0) {
          return Invalid(
              "The BETWEEN operator requires upper bound to be greater than or equal "
              "to lower bound; lower bound operand: AttributeValue: " +
              ValueText(low.value) +
              ", upper bound operand: AttributeValue: " + ValueText(high.value));
        }
      }
      out->operands = {std::move(left), std::move(low), std::move(high)};
      return std::nullopt;
    }
    if (IsKeyword("IN")) {
      ++pos_;
      TABLE_TRY(CountOperator());
      out->kind = Condition::Kind::kIn;
      out->op = "IN";
      out->operands.push_back(std::move(left));
      if (!Accept("(")) return SyntaxAt(pos_);
      do {
        Operand operand;
        TABLE_TRY(ParseOperand(&operand, true));
        out->operands.push_back(std::move(operand));
      } while (Accept(","));
      if (!Accept(")")) return SyntaxAt(pos_);
      if (out->operands.size() > 101) {
        return Invalid("The IN operator is provided with too many operands; number of operands: " +
                       std::to_string(out->operands.size() - 1));
      }
      return std::nullopt;
    }
    static const std::set<std::string> kComparators = {"=", "<>", "<", "<=", ">", ">="};
    if (Peek().kind != TokenKind::kSymbol || !kComparators.count(Peek().text)) {
      return SyntaxAt(pos_);
    }
    out->kind = Condition::Kind::kCompare;
    out->op = Peek().text;
    ++pos_;
    TABLE_TRY(CountOperator());
    Operand right;
    TABLE_TRY(ParseOperand(&right, true));
    out->operands = {std::move(left), std::move(right)};
    return std::nullopt;
  }

  static std::string ValueText(const json& value) {
    const std::string& type = TypeOf(value);
    if (type.empty()) return value.dump();
    const json& inner = value.begin().value();
    return "{" + type + ":" + (inner.is_string() ? inner.get<std::string>() : inner.dump()) + "}";
  }

  MaybeError CheckFunction(const Condition& node) {
    size_t want = node.op == "attribute_exists" || node.op == "attribute_not_exists" ? 1 : 2;
    if (node.operands.size() != want) {
      return Invalid(
          "Incorrect number of operands for operator or function; operator or "
          "function: " +
          node.op + ", number of operands: " + std::to_string(node.operands.size()));
    }
    bool needs_path = node.op != "begins_with" && node.op != "contains";
    if (needs_path && node.operands[0].kind != Operand::Kind::kPath) {
      return Invalid("Operator or function requires a document path; operator or function: " +
                     node.op);
    }
    if (node.op == "attribute_type") {
      const json& type = node.operands[1].value;
      static const std::set<std::string> kTypes = {"S", "N", "B",  "BOOL", "NULL",
                                                   "L", "M", "SS", "NS",   "BS"};
      if (node.operands[1].kind != Operand::Kind::kValue || TypeOf(type) != "S") {
        return Invalid(
            "Incorrect operand type for operator or function; operator or function: "
            "attribute_type, operand type: " +
            TypeName(TypeOf(type)));
      }
      if (!kTypes.count(type["S"].get<std::string>())) {
        return Invalid("Invalid attribute type name found; type: " + type["S"].get<std::string>() +
                       ", valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }");
      }
    }
    if (node.op == "begins_with") {
      for (const auto& operand : node.operands) {
        if (operand.kind == Operand::Kind::kValue) {
          const std::string& type = TypeOf(operand.value);
          if (type != "S" && type != "B") {
            return Invalid(
                "Incorrect operand type for operator or function; operator or "
                "function: begins_with, operand type: " +
                TypeName(type));
          }
        }
      }
    }
    return std::nullopt;
  }

  MaybeError ParsePath(Path* out) {
    auto element = [&]() -> MaybeError {
      const Token& token = Peek();
      PathElement part;
      if (token.kind == TokenKind::kName) {
        if (IsReservedWord(token.text)) {
          return Invalid("Attribute name is a reserved keyword; reserved keyword: " + token.text);
        }
        part.name = token.text;
      } else if (token.kind == TokenKind::kNamePlaceholder) {
        TABLE_TRY(ResolveName(token.text, &part.name));
      } else {
        return SyntaxAt(pos_);
      }
      ++pos_;
      out->push_back(std::move(part));
      return std::nullopt;
    };
    TABLE_TRY(element());
    while (true) {
      if (Accept(".")) {
        TABLE_TRY(element());
      } else if (Accept("[")) {
        if (Peek().kind != TokenKind::kNumber) return SyntaxAt(pos_);
        const std::string& digits = Peek().text;
        if (digits.size() > 9) return Invalid("List index is out of range");
        PathElement part;
        part.index = std::stoi(digits);
        ++pos_;
        if (!Accept("]")) return SyntaxAt(pos_);
        out->push_back(std::move(part));
      } else {
        break;
      }
    }
    if (out->size() > 32) {
      return Invalid("The document path has too many nesting levels; nesting levels: " +
                     std::to_string(out->size()));
    }
    return std::nullopt;
  }

  MaybeError ResolveName(const std::string& placeholder, std::string* out) {
    const json* names = context_.names_;
    if (names == nullptr || !names->contains(placeholder)) {
      return Invalid(
          "An expression attribute name used in the document path is not defined; "
          "attribute name: " +
          placeholder);
    }
    const json& name = (*names)[placeholder];
    if (!name.is_string()) return Invalid("Invalid attribute name: " + placeholder);
    context_.used_names_.insert(placeholder);
    *out = name.get<std::string>();
    return std::nullopt;
  }

  MaybeError ResolveValue(const std::string& placeholder, json* out) {
    const json* values = context_.values_;
    if (values == nullptr || !values->contains(placeholder)) {
      return Invalid(
          "An expression attribute value used in expression is not defined; "
          "attribute value: " +
          placeholder);
    }
    context_.used_values_.insert(placeholder);
    *out = (*values)[placeholder];
    return std::nullopt;
  }

  // A condition operand: path, value or size(path).
  MaybeError ParseOperand(Operand* out, bool allow_size) {
    const Token& token = Peek();
    if (token.kind == TokenKind::kValuePlaceholder) {
      out->kind = Operand::Kind::kValue;
      ++pos_;
      return ResolveValue(token.text, &out->value);
    }
    if (token.kind == TokenKind::kName && IsSymbol("(", 1)) {
      if (!allow_size || token.text != "size") {
        return Invalid(
            "The function is not allowed to be used this way in an expression; "
            "function: " +
            token.text);
      }
      pos_ += 2;
      TABLE_TRY(CountOperator());
      out->kind = Operand::Kind::kSize;
      Operand inner;
      TABLE_TRY(ParseOperand(&inner, false));
      if (inner.kind != Operand::Kind::kPath) {
        return Invalid("Operator or function requires a document path; operator or function: size");
      }
      out->path = std::move(inner.path);
      if (!Accept(")")) return SyntaxAt(pos_);
      return std::nullopt;
    }
    if (token.kind == TokenKind::kName || token.kind == TokenKind::kNamePlaceholder) {
      out->kind = Operand::Kind::kPath;
      return ParsePath(&out->path);
    }
    return SyntaxAt(pos_);
  }

  MaybeError ParseSetValue(Operand* out) {
    Operand left;
    TABLE_TRY(ParseSetTerm(&left));
    if (IsSymbol("+") || IsSymbol("-")) {
      bool plus = Peek().text == "+";
      ++pos_;
      TABLE_TRY(CountOperator());
      Operand right;
      TABLE_TRY(ParseSetTerm(&right));
      out->kind = plus ? Operand::Kind::kPlus : Operand::Kind::kMinus;
      out->args = {std::move(left), std::move(right)};
      return std::nullopt;
    }
    *out = std::move(left);
    return std::nullopt;
  }

  MaybeError ParseSetTerm(Operand* out) {
    const Token& token = Peek();
    if (token.kind == TokenKind::kName && IsSymbol("(", 1)) {
      std::string function = token.text;
      if (function != "if_not_exists" && function != "list_append") {
        static const std::set<std::string> kConditionFunctions = {
            "attribute_exists", "attribute_not_exists",
            "attribute_type",   "begins_with",
            "contains",         "size"};
        if (kConditionFunctions.count(function)) {
          return Invalid("The function is not allowed in an update expression; function: " +
                         function);
        }
        return Invalid("Invalid function name; function: " + function);
      }
      pos_ += 2;
      TABLE_TRY(CountOperator());
      Operand first, second;
      if (function == "if_not_exists") {
        TABLE_TRY(ParseSetTerm(&first));
        if (first.kind != Operand::Kind::kPath) {
          return Invalid(
              "Operator or function requires a document path; operator or function: "
              "if_not_exists");
        }
      } else {
        TABLE_TRY(ParseSetTerm(&first));
      }
      if (!Accept(",")) {
        return Invalid(
            "Incorrect number of operands for operator or function; operator or "
            "function: " +
            function + ", number of operands: 1");
      }
      TABLE_TRY(ParseSetTerm(&second));
      if (!Accept(")")) return SyntaxAt(pos_);
      if (function == "list_append") {
        for (const Operand* operand : {&first, &second}) {
          if (operand->kind == Operand::Kind::kValue && TypeOf(operand->value) != "L") {
            return Invalid(
                "Incorrect operand type for operator or function; operator or "
                "function: list_append, operand type: " +
                TypeName(TypeOf(operand->value)));
          }
        }
      }
      out->kind =
          function == "if_not_exists" ? Operand::Kind::kIfNotExists : Operand::Kind::kListAppend;
      out->args = {std::move(first), std::move(second)};
      return std::nullopt;
    }
    return ParseOperand(out, false);
  }

  std::string_view text_;
  std::string which_;
  ExpressionContext& context_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int operators_ = 0;
};

}  // namespace

std::string PathText(const Path& path) {
  std::string out = "[";
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += ", ";
    out += path[i].index >= 0 ? "[" + std::to_string(path[i].index) + "]" : path[i].name;
  }
  return out + "]";
}

bool PathsOverlap(const Path& a, const Path& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i].index != b[i].index || a[i].name != b[i].name) return false;
  }
  return true;
}

MaybeError ExpressionContext::CheckUnused() const {
  if (names_ != nullptr) {
    std::string unused;
    for (const auto& [key, value] : names_->items()) {
      if (!used_names_.count(key)) unused += (unused.empty() ? "" : ", ") + key;
    }
    if (!unused.empty()) {
      return ApiError::Validation(
          "Value provided in ExpressionAttributeNames unused in expressions: keys: {" + unused +
          "}");
    }
  }
  if (values_ != nullptr) {
    std::string unused;
    for (const auto& [key, value] : values_->items()) {
      if (!used_values_.count(key)) unused += (unused.empty() ? "" : ", ") + key;
    }
    if (!unused.empty()) {
      return ApiError::Validation(
          "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + unused +
          "}");
    }
  }
  return std::nullopt;
}

MaybeError ParseCondition(std::string_view text, const char* which, ExpressionContext& context,
                          Condition* out) {
  Parser parser(text, which, context);
  return parser.ParseConditionTop(out);
}

MaybeError ParseUpdate(std::string_view text, ExpressionContext& context,
                       std::vector<UpdateAction>* out) {
  Parser parser(text, "UpdateExpression", context);
  return parser.ParseUpdateTop(out);
}

MaybeError ParseProjection(std::string_view text, ExpressionContext& context,
                           std::vector<Path>* out) {
  Parser parser(text, "ProjectionExpression", context);
  return parser.ParseProjectionTop(out);
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

namespace {

const json* Child(const json& value, const PathElement& element) {
  const std::string& type = TypeOf(value);
  if (element.index >= 0) {
    if (type != "L") return nullptr;
    const json& list = value.begin().value();
    if (static_cast<size_t>(element.index) >= list.size()) return nullptr;
    return &list[static_cast<size_t>(element.index)];
  }
  if (type != "M") return nullptr;
  const json& map = value.begin().value();
  auto it = map.find(element.name);
  return it == map.end() ? nullptr : &*it;
}

std::optional<json> OperandValue(const Operand& operand, const json& item) {
  switch (operand.kind) {
    case Operand::Kind::kValue:
      return operand.value;
    case Operand::Kind::kPath: {
      const json* value = ResolvePath(item, operand.path);
      if (value == nullptr) return std::nullopt;
      return *value;
    }
    case Operand::Kind::kSize: {
      const json* value = ResolvePath(item, operand.path);
      if (value == nullptr) return std::nullopt;
      const std::string& type = TypeOf(*value);
      const json& inner = value->begin().value();
      size_t size = 0;
      if (type == "S") {
        size = inner.get_ref<const std::string&>().size();
      } else if (type == "B") {
        size = BinaryBytes(inner).size();
      } else if (type == "L" || type == "M" || type == "SS" || type == "NS" || type == "BS") {
        size = inner.size();
      } else {
        return std::nullopt;
      }
      return json{{"N", std::to_string(size)}};
    }
    default:
      return std::nullopt;
  }
}

bool Contains(const json& haystack, const json& needle) {
  const std::string& type = TypeOf(haystack);
  const std::string& needle_type = TypeOf(needle);
  const json& inner = haystack.begin().value();
  if (type == "S" && needle_type == "S") {
    return inner.get_ref<const std::string&>().find(needle["S"].get_ref<const std::string&>()) !=
           std::string::npos;
  }
  if (type == "B" && needle_type == "B") {
    return BinaryBytes(inner).find(BinaryBytes(needle["B"])) != std::string::npos;
  }
  if ((type == "SS" && needle_type == "S") || (type == "NS" && needle_type == "N") ||
      (type == "BS" && needle_type == "B")) {
    for (const auto& element : inner) {
      if (ValuesEqual(json{{needle_type, element}}, needle)) return true;
    }
    return false;
  }
  if (type == "L") {
    for (const auto& element : inner) {
      if (ValuesEqual(element, needle)) return true;
    }
  }
  return false;
}

}  // namespace

const json* ResolvePath(const json& item, const Path& path) {
  if (path.empty() || path[0].index >= 0 || !item.is_object()) return nullptr;
  auto it = item.find(path[0].name);
  if (it == item.end()) return nullptr;
  const json* value = &*it;
  for (size_t i = 1; i < path.size() && value != nullptr; ++i) value = Child(*value, path[i]);
  return value;
}

bool EvaluateCondition(const Condition& condition, const json& item) {
  switch (condition.kind) {
    case Condition::Kind::kAnd:
      return EvaluateCondition(condition.children[0], item) &&
             EvaluateCondition(condition.children[1], item);
    case Condition::Kind::kOr:
      return EvaluateCondition(condition.children[0], item) ||
             EvaluateCondition(condition.children[1], item);
    case Condition::Kind::kNot:
      return !EvaluateCondition(condition.children[0], item);
    case Condition::Kind::kCompare: {
      auto a = OperandValue(condition.operands[0], item);
      auto b = OperandValue(condition.operands[1], item);
      if (condition.op == "<>") return !a || !b || !ValuesEqual(*a, *b);
      if (!a || !b) return false;
      if (condition.op == "=") return ValuesEqual(*a, *b);
      auto order = CompareValues(*a, *b);
      if (!order) return false;
      if (condition.op == "<") return *order < 0;
      if (condition.op == "<=") return *order <= 0;
      if (condition.op == ">") return *order > 0;
      return *order >= 0;
    }
    case Condition::Kind::kBetween: {
      auto a = OperandValue(condition.operands[0], item);
      auto low = OperandValue(condition.operands[1], item);
      auto high = OperandValue(condition.operands[2], item);
      if (!a || !low || !high) return false;
      auto x = CompareValues(*a, *low);
      auto y = CompareValues(*a, *high);
      return x && y && *x >= 0 && *y <= 0;
    }
    case Condition::Kind::kIn: {
      auto a = OperandValue(condition.operands[0], item);
      if (!a) return false;
      for (size_t i = 1; i < condition.operands.size(); ++i) {
        auto b = OperandValue(condition.operands[i], item);
        if (b && ValuesEqual(*a, *b)) return true;
      }
      return false;
    }
    case Condition::Kind::kFunction: {
      const std::string& f = condition.op;
      if (f == "attribute_exists") return ResolvePath(item, condition.operands[0].path) != nullptr;
      if (f == "attribute_not_exists") {
        return ResolvePath(item, condition.operands[0].path) == nullptr;
      }
      auto a = OperandValue(condition.operands[0], item);
      auto b = OperandValue(condition.operands[1], item);
      if (!a || !b) return false;
      if (f == "attribute_type") return TypeOf(*a) == (*b)["S"].get<std::string>();
      if (f == "begins_with") {
        const std::string& type = TypeOf(*a);
        if (type != TypeOf(*b)) return false;
        if (type == "S") {
          return (*a)["S"].get_ref<const std::string&>().starts_with(
              (*b)["S"].get_ref<const std::string&>());
        }
        if (type == "B") return BinaryBytes((*a)["B"]).starts_with(BinaryBytes((*b)["B"]));
        return false;
      }
      if (f == "contains") return Contains(*a, *b);
      return false;
    }
  }
  return false;
}

namespace {

const char* kMissingAttribute =
    "The provided expression refers to an attribute that does not exist in the item";
const char* kWrongType = "An operand in the update expression has an incorrect data type";

MaybeError SetValue(const Operand& operand, const json& item, json* out) {
  switch (operand.kind) {
    case Operand::Kind::kValue:
      *out = operand.value;
      return std::nullopt;
    case Operand::Kind::kPath: {
      const json* value = ResolvePath(item, operand.path);
      if (value == nullptr) return ApiError::Validation(kMissingAttribute);
      *out = *value;
      return std::nullopt;
    }
    case Operand::Kind::kIfNotExists: {
      const json* value = ResolvePath(item, operand.args[0].path);
      if (value != nullptr) {
        *out = *value;
        return std::nullopt;
      }
      return SetValue(operand.args[1], item, out);
    }
    case Operand::Kind::kListAppend: {
      json a, b;
      TABLE_TRY(SetValue(operand.args[0], item, &a));
      TABLE_TRY(SetValue(operand.args[1], item, &b));
      if (TypeOf(a) != "L" || TypeOf(b) != "L") return ApiError::Validation(kWrongType);
      json list = a["L"];
      for (const auto& element : b["L"]) list.push_back(element);
      *out = json{{"L", std::move(list)}};
      return std::nullopt;
    }
    case Operand::Kind::kPlus:
    case Operand::Kind::kMinus: {
      json a, b;
      TABLE_TRY(SetValue(operand.args[0], item, &a));
      TABLE_TRY(SetValue(operand.args[1], item, &b));
      if (TypeOf(a) != "N" || TypeOf(b) != "N") return ApiError::Validation(kWrongType);
      Decimal x, y, sum;
      ParseDecimal(a["N"].get_ref<const std::string&>(), &x);
      ParseDecimal(b["N"].get_ref<const std::string&>(), &y);
      if (operand.kind == Operand::Kind::kMinus && !y.IsZero()) y.negative = !y.negative;
      if (auto error = AddDecimal(x, y, &sum)) return ApiError::Validation(*error);
      *out = json{{"N", FormatDecimal(sum)}};
      return std::nullopt;
    }
    case Operand::Kind::kSize:
      return ApiError::Validation(kWrongType);
  }
  return std::nullopt;
}

// The container that holds the last element of path (an attribute map, a map's inner object
// or a list's inner array); nullptr when the parent is absent or of the wrong kind.
json* ParentContainer(json* item, const Path& path) {
  if (path.size() == 1) return item;
  auto it = item->find(path[0].name);
  if (it == item->end()) return nullptr;
  json* value = &*it;
  for (size_t i = 1; i + 1 < path.size(); ++i) {
    const json* child = Child(*value, path[i]);
    if (child == nullptr) return nullptr;
    value = const_cast<json*>(child);
  }
  const std::string& type = TypeOf(*value);
  const PathElement& last = path.back();
  if (last.index >= 0 ? type != "L" : type != "M") return nullptr;
  return &value->begin().value();
}

json* Target(json* item, const Path& path) {
  json* parent = ParentContainer(item, path);
  if (parent == nullptr) return nullptr;
  const PathElement& last = path.back();
  if (last.index >= 0) {
    if (static_cast<size_t>(last.index) >= parent->size()) return nullptr;
    return &(*parent)[static_cast<size_t>(last.index)];
  }
  auto it = parent->find(last.name);
  return it == parent->end() ? nullptr : &*it;
}

MaybeError Assign(json* item, const Path& path, json value) {
  json* parent = ParentContainer(item, path);
  if (parent == nullptr) {
    return ApiError::Validation(
        "The document path provided in the update expression is invalid for update");
  }
  const PathElement& last = path.back();
  if (last.index >= 0) {
    if (static_cast<size_t>(last.index) >= parent->size()) {
      parent->push_back(std::move(value));
    } else {
      (*parent)[static_cast<size_t>(last.index)] = std::move(value);
    }
  } else {
    (*parent)[last.name] = std::move(value);
  }
  return std::nullopt;
}

void Remove(json* item, const Path& path) {
  json* parent = ParentContainer(item, path);
  if (parent == nullptr) return;
  const PathElement& last = path.back();
  if (last.index >= 0) {
    if (static_cast<size_t>(last.index) < parent->size()) {
      parent->erase(static_cast<size_t>(last.index));
    }
  } else {
    parent->erase(last.name);
  }
}

std::string SetElementKey(const std::string& type, const json& element) {
  if (type == "NS") {
    Decimal d;
    if (!ParseDecimal(element.get_ref<const std::string&>(), &d)) return FormatDecimal(d);
  }
  if (type == "BS") return BinaryBytes(element);
  return element.get<std::string>();
}

}  // namespace

MaybeError ApplyUpdate(const std::vector<UpdateAction>& actions, json* item) {
  // Every right-hand side is evaluated against the item as it was before the update.
  const json original = *item;
  std::vector<json> values(actions.size());
  for (size_t i = 0; i < actions.size(); ++i) {
    if (actions[i].kind == UpdateAction::Kind::kSet) {
      TABLE_TRY(SetValue(actions[i].value, original, &values[i]));
    }
  }
  // List removals by index apply from the highest index down, so each index refers to the
  // original list.
  std::vector<size_t> order(actions.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = actions[a];
    const auto& y = actions[b];
    bool x_remove = x.kind == UpdateAction::Kind::kRemove;
    bool y_remove = y.kind == UpdateAction::Kind::kRemove;
    if (x_remove != y_remove) return !x_remove;
    if (!x_remove) return false;
    return x.path.back().index > y.path.back().index;
  });
  for (size_t i : order) {
    const UpdateAction& action = actions[i];
    switch (action.kind) {
      case UpdateAction::Kind::kSet:
        TABLE_TRY(Assign(item, action.path, std::move(values[i])));
        break;
      case UpdateAction::Kind::kRemove:
        Remove(item, action.path);
        break;
      case UpdateAction::Kind::kAdd:
      case UpdateAction::Kind::kDelete: {
        const json& operand = action.value.value;
        const std::string& type = TypeOf(operand);
        json* existing = Target(item, action.path);
        bool add = action.kind == UpdateAction::Kind::kAdd;
        if (existing == nullptr) {
          if (add)
            TABLE_TRY(Assign(item, action.path, operand));
          else if (ParentContainer(item, action.path) == nullptr) {
            return ApiError::Validation(
                "The document path provided in the update expression is invalid for update");
          }
          break;
        }
        if (TypeOf(*existing) != type) return ApiError::Validation(kWrongType);
        if (type == "N") {
          Decimal x, y, sum;
          ParseDecimal((*existing)["N"].get_ref<const std::string&>(), &x);
          ParseDecimal(operand["N"].get_ref<const std::string&>(), &y);
          if (auto error = AddDecimal(x, y, &sum)) return ApiError::Validation(*error);
          *existing = json{{"N", FormatDecimal(sum)}};
          break;
        }
        json& elements = (*existing)[type];
        std::set<std::string> have;
        for (const auto& element : elements) have.insert(SetElementKey(type, element));
        if (add) {
          for (const auto& element : operand[type]) {
            if (have.insert(SetElementKey(type, element)).second) elements.push_back(element);
          }
        } else {
          std::set<std::string> drop;
          for (const auto& element : operand[type]) drop.insert(SetElementKey(type, element));
          json kept = json::array();
          for (const auto& element : elements) {
            if (!drop.count(SetElementKey(type, element))) kept.push_back(element);
          }
          if (kept.empty()) {
            Remove(item, action.path);
          } else {
            elements = std::move(kept);
          }
        }
        break;
      }
    }
  }
  return std::nullopt;
}

namespace {

struct ProjectionNode {
  bool whole = false;
  std::map<std::string, ProjectionNode> names;
  std::map<int, ProjectionNode> indexes;
};

std::optional<json> Prune(const json& value, const ProjectionNode& node) {
  if (node.whole) return value;
  const std::string& type = TypeOf(value);
  if (type == "M" && !node.names.empty()) {
    json map = json::object();
    for (const auto& [name, child] : node.names) {
      auto it = value["M"].find(name);
      if (it == value["M"].end()) continue;
      if (auto kept = Prune(*it, child)) map[name] = std::move(*kept);
    }
    if (map.empty()) return std::nullopt;
    return json{{"M", std::move(map)}};
  }
  if (type == "L" && !node.indexes.empty()) {
    json list = json::array();
    const json& elements = value["L"];
    for (const auto& [index, child] : node.indexes) {
      if (static_cast<size_t>(index) >= elements.size()) continue;
      if (auto kept = Prune(elements[static_cast<size_t>(index)], child)) {
        list.push_back(std::move(*kept));
      }
    }
    if (list.empty()) return std::nullopt;
    return json{{"L", std::move(list)}};
  }
  return std::nullopt;
}

}  // namespace

json ProjectItem(const json& item, const std::vector<Path>& paths) {
  ProjectionNode root;
  for (const Path& path : paths) {
    ProjectionNode* node = &root;
    for (const PathElement& element : path) {
      node = element.index >= 0 ? &node->indexes[element.index] : &node->names[element.name];
    }
    node->whole = true;
  }
  json out = json::object();
  for (const auto& [name, child] : root.names) {
    auto it = item.find(name);
    if (it == item.end()) continue;
    if (auto kept = Prune(*it, child)) out[name] = std::move(*kept);
  }
  return out;
}

}  // namespace haneul::table
