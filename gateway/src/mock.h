// MOCK integrations on HTTP APIs (a haneul extension: apigatewayv2 offers MOCK to WebSocket APIs
// only), with the semantics of REST APIs' mock integrations: the request template chosen by the
// request's Content-Type (or the body passed through) is rendered and its `statusCode` selects an
// integration response (key
// "/regex/" matched against the status, or "$default"), whose response template (chosen by
// Accept) becomes the body and whose response parameters become headers. Nothing is invoked.
//
// Templates are a small subset of API Gateway's VTL: variable references are substituted
// ($context.requestId, $context.stage, $context.apiId, $context.httpMethod, $context.routeKey,
// $context.path, $context.domainName, $context.identity.sourceIp, $context.identity.userAgent,
// $context.requestTime, $context.requestTimeEpoch, $context.authorizer.X, $stageVariables.X,
// $input.params('X'), $input.body, $input.json('$')), with or without ${...} braces; directives
// (#if, #set, #foreach) are not interpreted. Pure functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "events.h"
#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::gateway {

// The value of $context.FIELD (FIELD without "context."), or nullopt for a variable haneul does
// not know. Shared with parameter mapping.
std::optional<std::string> ContextVariable(const std::string& field, const RequestInfo& info);

// Substitutes the variable references of `text` for this request.
std::string RenderTemplate(std::string_view text, const RequestInfo& info);

// The key of the template that serves `content_type` (its media type, parameters ignored) in a
// TemplateMap: an exact match, else "application/json", else the first; nullopt when empty.
std::optional<std::string> SelectTemplate(const nlohmann::json& templates,
                                          std::string_view content_type);

// The status the mock answers: the statusCode of the request template for the request's media
// type (application/json when it names none), rendered. Without such a template the body passes
// through as PassthroughBehavior allows (WHEN_NO_MATCH, the default; WHEN_NO_TEMPLATES only when
// there are no templates; NEVER) and its statusCode counts, 200 when it has none; a refused
// media type sets *unsupported (the answer is then 415). InvalidArgument when a template
// renders no usable statusCode.
Result<int> MockStatus(const nlohmann::json& integration, const RequestInfo& info,
                       bool* unsupported);

// The integration response for `status` among `responses` (a JSON array of IntegrationResponse
// objects): the first "/regex/" key whose regex matches the whole status, else "$default";
// nullptr when neither.
const nlohmann::json* SelectIntegrationResponse(const nlohmann::json& responses, int status);

// True when `key` is a valid IntegrationResponseKey ("$default" or "/regex/" with a regex that
// compiles).
bool ValidIntegrationResponseKey(std::string_view key);

// The whole mock answer. An error means the configuration cannot answer (no statusCode, no
// matching integration response): the caller answers 500 as API Gateway does.
Result<HttpResponse> MockAnswer(const nlohmann::json& integration, const nlohmann::json& responses,
                                const RequestInfo& info);

}  // namespace haneul::gateway
