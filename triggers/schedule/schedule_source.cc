// EventBridge scheduled rules (see schedule_source.h). Errors use the events API's JSON 1.1
// shape ({"__type", "message"}, HTTP 400) with EventBridge's names and wording.
#include "schedule_source.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api_util.h"
#include "cron.h"
#include "event_pattern.h"
#include "haneul/common/ids.h"

namespace haneul::triggers {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kRulePrefix = "triggers/rule/";
constexpr size_t kMaxTargetsPerRule = 5;

bool ValidName(const std::string& name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

HttpResponse Error(const std::string& type, const std::string& message) {
  return Json11Error(400, type, message);
}

// "$", "$.a.b": the parts of EventBridge's InputPath that a scheduled event can use.
std::optional<Json> SelectPath(const Json& event, const std::string& path) {
  if (path == "$") return event;
  if (!path.starts_with("$.")) return std::nullopt;
  const Json* at = &event;
  size_t start = 2;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (key.empty() || !at->is_object() || !at->contains(key)) return std::nullopt;
    at = &(*at)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *at;
}

}  // namespace

struct ScheduleSource::Rule {
  struct Target {
    std::string id;
    std::string arn;
    std::optional<std::string> input;
    std::optional<std::string> input_path;
  };
  std::string name;
  std::string description;
  std::string schedule;       // the expression's text
  std::string event_pattern;  // stored; no events are published on the bus
  std::string state = "ENABLED";
  int64_t anchor_ms = 0;      // rate expressions count periods from here
  int64_t last_fired_ms = 0;  // the scheduled time of the last firing (0: none)
  std::optional<ScheduleExpression> expression;
  std::vector<Target> targets;
};

ScheduleSource::ScheduleSource(EventLoop& loop, KvStore& store, FunctionInvoker& invoker,
                               ScheduleOptions options)
    : loop_(loop), store_(store), invoker_(invoker), options_(std::move(options)),
      timer_(std::make_unique<Timer>(loop)) {
  if (!options_.clock) options_.clock = [] { return NowUnixMillis(); };
}

ScheduleSource::~ScheduleSource() { Stop(); }

void ScheduleSource::Stop() {
  stopped_ = true;
  if (timer_) timer_->Cancel();
}

Status ScheduleSource::Start() {
  HANEUL_RETURN_IF_ERROR(store_.Scan(kRulePrefix, kRulePrefix,
                                     [&](std::string_view, std::string_view value) {
    Json json = Json::parse(value, nullptr, false);
    if (!json.is_object()) return true;
    auto rule = std::make_unique<Rule>();
    rule->name = json.value("Name", "");
    rule->description = json.value("Description", "");
    rule->schedule = json.value("ScheduleExpression", "");
    rule->event_pattern = json.value("EventPattern", "");
    rule->state = json.value("State", "ENABLED");
    rule->anchor_ms = json.value("AnchorMs", int64_t{0});
    rule->last_fired_ms = json.value("LastFiredMs", int64_t{0});
    if (!rule->schedule.empty()) {
      auto parsed = ScheduleExpression::Parse(rule->schedule);
      if (parsed.ok()) rule->expression = *parsed;
    }
    if (json.contains("Targets") && json["Targets"].is_array()) {
      for (const Json& target : json["Targets"]) {
        Rule::Target item{target.value("Id", ""), target.value("Arn", ""), std::nullopt,
                          std::nullopt};
        if (target.contains("Input")) item.input = target["Input"].get<std::string>();
        if (target.contains("InputPath")) item.input_path = target["InputPath"].get<std::string>();
        rule->targets.push_back(std::move(item));
      }
    }
    if (!rule->name.empty()) rules_[rule->name] = std::move(rule);
    return true;
  }));
  stopped_ = false;
  // Firings missed while the server was down are delivered now, once.
  Tick();
  return Status::Ok();
}

Status ScheduleSource::Save(const Rule& rule) {
  Json json = {{"Name", rule.name},        {"State", rule.state},
               {"AnchorMs", rule.anchor_ms}, {"LastFiredMs", rule.last_fired_ms},
               {"Targets", Json::array()}};
  if (!rule.description.empty()) json["Description"] = rule.description;
  if (!rule.schedule.empty()) json["ScheduleExpression"] = rule.schedule;
  if (!rule.event_pattern.empty()) json["EventPattern"] = rule.event_pattern;
  for (const Rule::Target& target : rule.targets) {
    Json item = {{"Id", target.id}, {"Arn", target.arn}};
    if (target.input) item["Input"] = *target.input;
    if (target.input_path) item["InputPath"] = *target.input_path;
    json["Targets"].push_back(item);
  }
  return store_.Put(std::string(kRulePrefix) + rule.name, json.dump(), true);
}

void ScheduleSource::Tick() {
  if (stopped_) return;
  int64_t now = options_.clock();
  for (auto& [name, rule] : rules_) {
    if (rule->state != "ENABLED" || !rule->expression) continue;
    int64_t base = rule->last_fired_ms > 0 ? rule->last_fired_ms : rule->anchor_ms;
    auto next = rule->expression->NextAfter(base, rule->anchor_ms);
    if (!next || *next > now) continue;
    // Several firings may be due (the server was down, or the clock jumped): deliver only the
    // latest of them.
    int64_t due = *next;
    for (int guard = 0; guard < 200000; ++guard) {
      auto later = rule->expression->NextAfter(due, rule->anchor_ms);
      if (!later || *later > now) break;
      due = *later;
    }
    Fire(*rule, due);
  }
  Arm();
}

void ScheduleSource::Arm() {
  if (stopped_) return;
  int64_t delay = options_.recheck_ms;
  if (delay <= 0) {
    int64_t now = options_.clock();
    delay = 60000;  // re-check at least every minute (wall-clock adjustments)
    for (auto& [name, rule] : rules_) {
      if (rule->state != "ENABLED" || !rule->expression) continue;
      int64_t base = rule->last_fired_ms > 0 ? rule->last_fired_ms : rule->anchor_ms;
      auto next = rule->expression->NextAfter(base, rule->anchor_ms);
      if (next) delay = std::min(delay, *next - now);
    }
    delay = std::max<int64_t>(delay, 10);
  }
  timer_->Start(std::chrono::milliseconds(delay), [this] { Tick(); });
}

void ScheduleSource::Fire(Rule& rule, int64_t scheduled_ms) {
  // Recorded first: a crash after this point loses this firing rather than repeating it.
  rule.last_fired_ms = scheduled_ms;
  Status saved = Save(rule);
  if (!saved.ok()) spdlog::warn("rule {}: last firing not saved: {}", rule.name, saved.message());
  Json event = {{"version", "0"},
                {"id", NewUuid()},
                {"detail-type", "Scheduled Event"},
                {"source", "aws.events"},
                {"account", options_.account},
                {"time", IsoSecondsUtc(scheduled_ms)},
                {"region", options_.region},
                {"resources",
                 Json::array({"arn:aws:events:" + options_.region + ":" + options_.account +
                              ":rule/" + rule.name})},
                {"detail", Json::object()}};
  for (const Rule::Target& target : rule.targets) {
    std::string payload;
    if (target.input) {
      payload = *target.input;
    } else if (target.input_path) {
      auto selected = SelectPath(event, *target.input_path);
      payload = selected ? selected->dump() : "null";
    } else {
      payload = event.dump();
    }
    Status queued = invoker_.InvokeAsync(target.arn, std::move(payload));
    if (!queued.ok()) {
      spdlog::warn("rule {}: target {} ({}) not invoked: {}", rule.name, target.id, target.arn,
                   queued.message());
    }
  }
}

bool ScheduleSource::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  std::string_view target = request.headers.Get("X-Amz-Target");
  if (!target.starts_with("AWSEvents.")) return false;
  responder->Respond(Dispatch(std::string(target.substr(10)), request.body));
  return true;
}

HttpResponse ScheduleSource::Dispatch(const std::string& operation, const std::string& text) {
  Json body = Json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!body.is_object()) return Error("SerializationException", "Invalid JSON in the request");
  std::string bus = body.value("EventBusName", "default");
  if (bus != "default" && bus != "arn:aws:events:" + options_.region + ":" + options_.account +
                                      ":event-bus/default") {
    return Error("ResourceNotFoundException", "Event bus " + bus + " does not exist.");
  }
  auto string_field = [&](const char* name) {
    return body.contains(name) && body[name].is_string() ? body[name].get<std::string>() : "";
  };
  auto rule_arn = [&](const std::string& name) {
    return "arn:aws:events:" + options_.region + ":" + options_.account + ":rule/" + name;
  };
  std::string name = operation == "ListRules" ? "" : string_field(
      operation == "PutRule" || operation == "DescribeRule" || operation == "DeleteRule" ||
              operation == "EnableRule" || operation == "DisableRule"
          ? "Name" : "Rule");
  auto not_found = [&] {
    return Error("ResourceNotFoundException",
                 "Rule " + name + " does not exist on EventBus default.");
  };
  auto found = rules_.find(name);

  if (operation == "PutRule") {
    if (!ValidName(name, 64)) {
      return Error("ValidationException",
                   "1 validation error detected: Value '" + name +
                       "' at 'name' failed to satisfy constraint: Member must satisfy regular "
                       "expression pattern: [\\.\\-_A-Za-z0-9]+");
    }
    std::string schedule = string_field("ScheduleExpression");
    std::string pattern = string_field("EventPattern");
    if (schedule.empty() && pattern.empty()) {
      return Error("ValidationException",
                   "Parameter(s) EventPattern or ScheduleExpression must be specified.");
    }
    std::optional<ScheduleExpression> expression;
    if (!schedule.empty()) {
      auto parsed = ScheduleExpression::Parse(schedule);
      if (!parsed.ok()) return Error("ValidationException", parsed.status().message());
      expression = *parsed;
    }
    if (!pattern.empty() && !EventPattern::Parse(pattern).ok()) {
      return Error("InvalidEventPatternException", "Event pattern is not valid.");
    }
    std::string state = body.value("State", "ENABLED");
    if (state != "ENABLED" && state != "DISABLED") {
      return Error("ValidationException",
                   "1 validation error detected: Value '" + state +
                       "' at 'state' failed to satisfy constraint: Member must satisfy enum "
                       "value set: [ENABLED, DISABLED]");
    }
    std::unique_ptr<Rule> fresh;
    Rule* rule;
    if (found == rules_.end()) {
      fresh = std::make_unique<Rule>();
      rule = fresh.get();
      rule->name = name;
    } else {
      rule = found->second.get();
    }
    int64_t now = options_.clock();
    if (rule->schedule != schedule || (rule->state != "ENABLED" && state == "ENABLED")) {
      // A new schedule (or a re-enabled rule) starts counting now; nothing from before fires.
      rule->anchor_ms = now;
      rule->last_fired_ms = 0;
    }
    rule->schedule = schedule;
    rule->expression = expression;
    rule->event_pattern = pattern;
    rule->state = state;
    if (body.contains("Description")) rule->description = string_field("Description");
    Status saved = Save(*rule);
    if (!saved.ok()) return Json11Error(500, "InternalException", saved.message());
    if (fresh) rules_[name] = std::move(fresh);
    Arm();
    return Json11({{"RuleArn", rule_arn(name)}});
  }
  if (operation == "DescribeRule") {
    if (found == rules_.end()) return not_found();
    const Rule& rule = *found->second;
    Json answer = {{"Name", rule.name},          {"Arn", rule_arn(rule.name)},
                   {"State", rule.state},        {"EventBusName", "default"},
                   {"CreatedBy", options_.account}};
    if (!rule.schedule.empty()) answer["ScheduleExpression"] = rule.schedule;
    if (!rule.event_pattern.empty()) answer["EventPattern"] = rule.event_pattern;
    if (!rule.description.empty()) answer["Description"] = rule.description;
    return Json11(answer);
  }
  if (operation == "ListRules") {
    std::string prefix = string_field("NamePrefix");
    std::string token = string_field("NextToken");
    size_t limit = 100;
    if (body.contains("Limit") && body["Limit"].is_number_integer()) {
      int64_t value = body["Limit"].get<int64_t>();
      if (value < 1 || value > 100) {
        return Error("ValidationException",
                     "1 validation error detected: Value '" + std::to_string(value) +
                         "' at 'limit' failed to satisfy constraint: Member must have value "
                         "between 1 and 100");
      }
      limit = static_cast<size_t>(value);
    }
    Json list = Json::array();
    bool more = false;
    for (auto it = token.empty() ? rules_.begin() : rules_.upper_bound(token); it != rules_.end();
         ++it) {
      if (!it->first.starts_with(prefix)) continue;
      if (list.size() == limit) {
        more = true;
        break;
      }
      const Rule& rule = *it->second;
      Json item = {{"Name", rule.name}, {"Arn", rule_arn(rule.name)}, {"State", rule.state},
                   {"EventBusName", "default"}};
      if (!rule.schedule.empty()) item["ScheduleExpression"] = rule.schedule;
      if (!rule.event_pattern.empty()) item["EventPattern"] = rule.event_pattern;
      if (!rule.description.empty()) item["Description"] = rule.description;
      list.push_back(item);
    }
    Json answer = {{"Rules", list}};
    if (more) answer["NextToken"] = list.back()["Name"];
    return Json11(answer);
  }
  if (operation == "DeleteRule") {
    if (found == rules_.end()) return Json11(Json::object());  // idempotent, as EventBridge
    if (!found->second->targets.empty() && !body.value("Force", false)) {
      return Error("ValidationException", "Rule can't be deleted since it has targets.");
    }
    Status deleted = store_.Delete(std::string(kRulePrefix) + name, true);
    if (!deleted.ok()) return Json11Error(500, "InternalException", deleted.message());
    rules_.erase(found);
    return Json11(Json::object());
  }
  if (operation == "EnableRule" || operation == "DisableRule") {
    if (found == rules_.end()) return not_found();
    Rule& rule = *found->second;
    std::string state = operation == "EnableRule" ? "ENABLED" : "DISABLED";
    if (rule.state != state && state == "ENABLED") {
      rule.anchor_ms = options_.clock();
      rule.last_fired_ms = 0;
    }
    rule.state = state;
    Status saved = Save(rule);
    if (!saved.ok()) return Json11Error(500, "InternalException", saved.message());
    Arm();
    return Json11(Json::object());
  }
  if (operation == "PutTargets") {
    if (found == rules_.end()) return not_found();
    Rule& rule = *found->second;
    if (!body.contains("Targets") || !body["Targets"].is_array() || body["Targets"].empty() ||
        body["Targets"].size() > 10) {
      return Error("ValidationException",
                   "1 validation error detected: Value at 'targets' failed to satisfy "
                   "constraint: Member must have length between 1 and 10");
    }
    Json failed = Json::array();
    std::vector<Rule::Target> targets = rule.targets;
    for (const Json& item : body["Targets"]) {
      Rule::Target target{item.value("Id", ""), item.value("Arn", ""), std::nullopt,
                          std::nullopt};
      if (!ValidName(target.id, 64)) {
        return Error("ValidationException",
                     "1 validation error detected: Value '" + target.id +
                         "' at 'targets.member.id' failed to satisfy constraint: Member must "
                         "satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+");
      }
      if (item.contains("Input") && item.contains("InputPath")) {
        return Error("ValidationException",
                     "Only one of Input, InputPath, or InputTransformer must be provided.");
      }
      if (item.contains("Input")) {
        std::string input = item["Input"].is_string() ? item["Input"].get<std::string>() : "";
        if (Json::parse(input, nullptr, false).is_discarded()) {
          return Error("ValidationException", "Input is not valid JSON text.");
        }
        target.input = input;
      }
      if (item.contains("InputPath")) {
        std::string path = item["InputPath"].is_string() ? item["InputPath"].get<std::string>() : "";
        if (path != "$" && !path.starts_with("$.")) {
          return Error("ValidationException", "Target InputPath is not a valid JSON path.");
        }
        target.input_path = path;
      }
      if (!target.arn.starts_with("arn:") || target.arn.find(":lambda:") == std::string::npos ||
          target.arn.find(":function:") == std::string::npos) {
        // Only Lambda function targets exist here.
        failed.push_back({{"TargetId", target.id},
                          {"ErrorCode", "ValidationException"},
                          {"ErrorMessage", "haneul delivers scheduled events to Lambda function "
                                           "targets only: " + target.arn}});
        continue;
      }
      auto same = std::find_if(targets.begin(), targets.end(),
                               [&](const Rule::Target& t) { return t.id == target.id; });
      if (same != targets.end()) {
        *same = target;
      } else {
        targets.push_back(target);
      }
    }
    if (targets.size() > kMaxTargetsPerRule) {
      return Error("LimitExceededException",
                   "The requested resource exceeds the maximum number allowed.");
    }
    rule.targets = std::move(targets);
    Status saved = Save(rule);
    if (!saved.ok()) return Json11Error(500, "InternalException", saved.message());
    return Json11({{"FailedEntryCount", failed.size()}, {"FailedEntries", failed}});
  }
  if (operation == "RemoveTargets") {
    if (found == rules_.end()) return not_found();
    Rule& rule = *found->second;
    if (!body.contains("Ids") || !body["Ids"].is_array()) {
      return Error("ValidationException", "1 validation error detected: Value null at 'ids' "
                                          "failed to satisfy constraint: Member must not be null");
    }
    for (const Json& id : body["Ids"]) {
      if (!id.is_string()) continue;
      std::erase_if(rule.targets, [&](const Rule::Target& t) { return t.id == id.get<std::string>(); });
    }
    Status saved = Save(rule);
    if (!saved.ok()) return Json11Error(500, "InternalException", saved.message());
    return Json11({{"FailedEntryCount", 0}, {"FailedEntries", Json::array()}});
  }
  if (operation == "ListTargetsByRule") {
    if (found == rules_.end()) return not_found();
    Json list = Json::array();
    for (const Rule::Target& target : found->second->targets) {
      Json item = {{"Id", target.id}, {"Arn", target.arn}};
      if (target.input) item["Input"] = *target.input;
      if (target.input_path) item["InputPath"] = *target.input_path;
      list.push_back(item);
    }
    return Json11({{"Targets", list}});
  }
  return Error("UnknownOperationException", "Unknown operation AWSEvents." + operation);
}

}  // namespace haneul::triggers
