// LogsService: CloudWatch Logs operations on the LogStore.
#include "haneul/invoker/logs_service.h"

#include <nlohmann/json.hpp>

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
    for (const auto& group : logs_.Groups(string_field("logGroupNamePrefix"))) {
      groups.push_back({{"logGroupName", group},
                        {"arn", "arn:aws:logs:us-east-1:000000000000:log-group:" + group + ":*"},
                        {"storedBytes", 0}});
    }
    responder->Respond(JsonReply(200, {{"logGroups", groups}}));
    return true;
  }

  std::string group = string_field("logGroupName");
  if (group.empty()) {
    responder->Respond(ErrorReply(400, "InvalidParameterException",
                                  "1 validation error detected: Value null at 'logGroupName' "
                                  "failed to satisfy constraint: Member must not be null"));
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
    if (filter) {
      auto names = body.find("logStreamNames");
      if (names != body.end() && names->is_array() && names->size() == 1 && (*names)[0].is_string()) {
        stream = (*names)[0].get<std::string>();
      }
    }
    std::string token = string_field("nextToken");
    if (!filter && (token.starts_with("f/") || token.starts_with("b/"))) token = token.substr(2);
    int64_t limit = int_field("limit", 10000);
    if (limit < 1 || limit > 10000) limit = 10000;
    std::string next;
    auto events = logs_.Read(group, stream, int_field("startTime", 0), int_field("endTime", 0),
                             token, static_cast<size_t>(limit), &next);
    std::string pattern = string_field("filterPattern");
    nlohmann::json out_events = nlohmann::json::array();
    for (const auto& event : events) {
      // Only plain-term filter patterns are supported: every term must appear.
      if (filter && !pattern.empty()) {
        bool all = true;
        size_t start = 0;
        while (start < pattern.size()) {
          size_t space = pattern.find(' ', start);
          std::string term = pattern.substr(start, space - start);
          if (term.size() >= 2 && term.front() == '"' && term.back() == '"') {
            term = term.substr(1, term.size() - 2);
          }
          if (!term.empty() && event.message.find(term) == std::string::npos) all = false;
          if (space == std::string::npos) break;
          start = space + 1;
        }
        if (!all) continue;
      }
      out_events.push_back(EventJson(event, filter));
    }
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
