// LogsService: CloudWatch Logs operations on the LogStore. Validation messages follow the service's
// "1 validation error detected: ..." form; filter patterns are parsed by FilterPattern.
#include "haneul/invoker/logs_service.h"

#include <nlohmann/json.hpp>
#include <set>

#include "filter_pattern.h"
#include "haneul/common/ids.h"

namespace haneul::invoker {

namespace {

constexpr std::string_view kTargetPrefix = "Logs_20140328.";

HttpResponse JsonReply(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.headers.Set("Content-Type", "application/x-amz-json-1.1");
  response.headers.Set("x-amzn-RequestId", NewUuid());
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse ErrorReply(int status, const std::string& type, const std::string& message) {
  return JsonReply(status, {{"__type", type}, {"message", message}});
}

nlohmann::json EventJson(const LogEvent& event, bool with_stream) {
  nlohmann::json out = {{"timestamp", event.timestamp_ms},
                        {"message", event.message},
                        {"ingestionTime", event.ingestion_ms},
                        {"eventId", event.event_id}};
  if (with_stream) out["logStreamName"] = event.stream;
  return out;
}

// CloudWatch Logs' retention values (the Days shape).
bool ValidRetention(int64_t days) {
  static constexpr int64_t kDays[] = {1,   3,   5,   7,    14,   30,   60,   90,   120,  150,
                                      180, 365, 400, 545,  731,  1096, 1827, 2192, 2557, 2922,
                                      3288, 3653};
  for (int64_t allowed : kDays) {
    if (days == allowed) return true;
  }
  return false;
}

}  // namespace

bool LogsService::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  std::string_view target = request.headers.Get("X-Amz-Target");
  if (!target.starts_with(kTargetPrefix)) return false;
  std::string operation(target.substr(kTargetPrefix.size()));
  auto body = nlohmann::json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    responder->Respond(ErrorReply(400, "SerializationException", "Malformed request body"));
    return true;
  }
  auto string_field = [&](const char* name) {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto int_field = [&](const char* name, int64_t fallback) {
    auto it = body.find(name);
    return it != body.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
  };
  auto missing_group = [&] {
    responder->Respond(ErrorReply(400, "ResourceNotFoundException",
                                  "The specified log group does not exist."));
  };

  if (operation == "DescribeLogGroups") {
    nlohmann::json groups = nlohmann::json::array();
    int64_t limit = int_field("limit", 50);
    if (limit < 1 || limit > 50) {
      responder->Respond(ErrorReply(400, "InvalidParameterException",
                                    "1 validation error detected: Value '" + std::to_string(limit) +
                                        "' at 'limit' failed to satisfy constraint: Member must "
                                        "have value less than or equal to 50"));
      return true;
    }
    std::string after = string_field("nextToken");
    std::string next;
    for (const auto& group : logs_.Groups(string_field("logGroupNamePrefix"))) {
      if (!after.empty() && group <= after) continue;
      if (static_cast<int64_t>(groups.size()) == limit) {
        next = groups.back()["logGroupName"].get<std::string>();
        break;
      }
      nlohmann::json entry = {
          {"logGroupName", group},
          {"creationTime", logs_.CreationTime(group)},
          {"metricFilterCount", 0},
          {"arn", "arn:aws:logs:us-east-1:000000000000:log-group:" + group + ":*"},
          {"logGroupArn", "arn:aws:logs:us-east-1:000000000000:log-group:" + group},
          {"logGroupClass", "STANDARD"},
          {"storedBytes", 0}};
      if (int days = logs_.RetentionDays(group); days > 0) entry["retentionInDays"] = days;
      groups.push_back(std::move(entry));
    }
    nlohmann::json out = {{"logGroups", groups}};
    if (!next.empty()) out["nextToken"] = next;
    responder->Respond(JsonReply(200, out));
    return true;
  }

  std::string group = string_field("logGroupName");
  if (group.empty()) {
    responder->Respond(ErrorReply(400, "InvalidParameterException",
                                  "1 validation error detected: Value null at 'logGroupName' "
                                  "failed to satisfy constraint: Member must not be null"));
    return true;
  }
  if (operation == "CreateLogGroup") {
    if (!logs_.CreateGroup(group)) {
      responder->Respond(ErrorReply(400, "ResourceAlreadyExistsException",
                                    "The specified log group already exists"));
    } else {
      responder->Respond(JsonReply(200, nlohmann::json::object()));
    }
    return true;
  }
  if (operation == "DeleteLogGroup") {
    if (!logs_.GroupExists(group)) {
      missing_group();
      return true;
    }
    logs_.DeleteGroup(group);
    responder->Respond(JsonReply(200, nlohmann::json::object()));
    return true;
  }
  if (operation == "PutRetentionPolicy" || operation == "DeleteRetentionPolicy") {
    if (!logs_.GroupExists(group)) {
      missing_group();
      return true;
    }
    int64_t days = 0;
    if (operation == "PutRetentionPolicy") {
      auto it = body.find("retentionInDays");
      days = it != body.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
      if (!ValidRetention(days)) {
        std::string shown = it == body.end() ? "null" : it->dump();
        responder->Respond(ErrorReply(
            400, "InvalidParameterException",
            "1 validation error detected: Value '" + shown +
                "' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum "
                "value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, "
                "1827, 2192, 2557, 2922, 3288, 3653]"));
        return true;
      }
    }
    logs_.SetRetention(group, static_cast<int>(days));
    responder->Respond(JsonReply(200, nlohmann::json::object()));
    return true;
  }
  if (operation == "DescribeLogStreams") {
    if (!logs_.GroupExists(group)) {
      missing_group();
      return true;
    }
    nlohmann::json streams = nlohmann::json::array();
    for (const auto& stream : logs_.Streams(group)) {
      streams.push_back({{"logStreamName", stream.name},
                         {"creationTime", stream.creation_ms},
                         {"storedBytes", 0}});
    }
    responder->Respond(JsonReply(200, {{"logStreams", streams}}));
    return true;
  }
  if (operation == "FilterLogEvents" || operation == "GetLogEvents") {
    if (!logs_.GroupExists(group)) {
      missing_group();
      return true;
    }
    bool filter = operation == "FilterLogEvents";
    std::string stream = string_field("logStreamName");
    if (!filter && stream.empty()) {
      responder->Respond(ErrorReply(400, "InvalidParameterException",
                                    "1 validation error detected: Value null at "
                                    "'logStreamName' failed to satisfy constraint: Member must "
                                    "not be null"));
      return true;
    }
    // FilterLogEvents: the streams asked for (by names or by prefix), and the pattern.
    std::set<std::string> streams;
    std::string stream_prefix = string_field("logStreamNamePrefix");
    if (filter) {
      auto names = body.find("logStreamNames");
      if (names != body.end() && names->is_array()) {
        for (const auto& name : *names) {
          if (name.is_string()) streams.insert(name.get<std::string>());
        }
        if (!stream_prefix.empty() && !streams.empty()) {
          responder->Respond(ErrorReply(400, "InvalidParameterException",
                                        "logStreamNames and logStreamNamePrefix are mutually "
                                        "exclusive"));
          return true;
        }
      }
      if (streams.size() == 1) stream = *streams.begin();
    }
    auto pattern = FilterPattern::Parse(filter ? string_field("filterPattern") : "");
    if (!pattern.ok()) {
      responder->Respond(ErrorReply(400, "InvalidParameterException", pattern.status().message()));
      return true;
    }
    std::string token = string_field("nextToken");
    if (!filter && (token.starts_with("f/") || token.starts_with("b/"))) token = token.substr(2);
    int64_t limit = int_field("limit", 10000);
    if (limit < 1 || limit > 10000) limit = 10000;
    std::string next;
    // Streams are selected inside the scan only for one stream; several are filtered here (the
    // pattern too), and such events do not count against the limit.
    auto keep = [&](std::string_view message) { return pattern->Matches(message); };
    std::vector<LogEvent> events;
    if (filter && (streams.size() > 1 || !stream_prefix.empty())) {
      std::string after = token;
      while (true) {
        std::string page_next;
        auto page = logs_.Read(group, "", int_field("startTime", 0), int_field("endTime", 0),
                               after, static_cast<size_t>(limit), &page_next, keep);
        for (auto& event : page) {
          bool wanted = streams.empty() ? event.stream.starts_with(stream_prefix)
                                        : streams.count(event.stream) > 0;
          if (!wanted) continue;
          events.push_back(std::move(event));
          if (events.size() == static_cast<size_t>(limit)) {
            next = events.back().event_id;
            break;
          }
        }
        if (!next.empty() || page_next.empty()) break;
        after = page_next;
      }
    } else {
      events = logs_.Read(group, stream, int_field("startTime", 0), int_field("endTime", 0), token,
                          static_cast<size_t>(limit), &next, keep);
    }
    nlohmann::json out_events = nlohmann::json::array();
    for (const auto& event : events) out_events.push_back(EventJson(event, filter));
    nlohmann::json out = {{"events", out_events}};
    if (filter) {
      out["searchedLogStreams"] = nlohmann::json::array();
      if (!next.empty()) out["nextToken"] = next;
    } else {
      // GetLogEvents always returns tokens; the forward one repeats when there is nothing new.
      std::string last = events.empty() ? token : events.back().event_id;
      out["nextForwardToken"] = "f/" + last;
      out["nextBackwardToken"] = "b/" + (events.empty() ? token : events.front().event_id);
    }
    responder->Respond(JsonReply(200, out));
    return true;
  }
  responder->Respond(ErrorReply(400, "UnknownOperationException",
                                "Operation " + operation + " is not supported by this server."));
  return true;
}

}  // namespace haneul::invoker
