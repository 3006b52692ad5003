// GatewayService: the API-Gateway-compatible HTTP front. Two faces on the one endpoint:
//  - the management API of botocore's `apigatewayv2` model (rest-json under /v2/apis: APIs,
//    routes, integrations and their integration responses, stages, deployments, authorizers,
//    OpenAPI import/export in JSON or YAML), durable in the server's KvStore under "gateway/";
//  - the data plane: public HTTP routes served at /_api/{apiId}/{stage}/... and, for a Host of
//    {apiId}.execute-api.localhost[:port], at /{stage}/... (/... for the $default stage), with
//    Lambda proxy (payload 1.0 / 2.0), HTTP proxy and MOCK integrations, parameter mapping,
//    CORS, and Lambda (REQUEST, TOKEN) and JWT authorizers.
// Not thread-safe: loop thread only (HTTP proxy calls run on the service's own worker threads
// and post their answers back to the loop).
#pragma once

#include <memory>
#include <string>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/kv_store.h"
#include "haneul/invoker/lambda_service.h"
#include "haneul/invoker/log_store.h"

namespace haneul::gateway {

struct GatewayOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  size_t http_proxy_threads = 4;  // concurrent HTTP_PROXY integration calls
  // Where stages' access logs go (the CloudWatch-Logs-style store); null: not written.
  invoker::LogStore* access_logs = nullptr;
};

class GatewayService {
 public:
  // Loads every stored API. `lambda` must outlive the service.
  static Result<std::unique_ptr<GatewayService>> Create(EventLoop& loop, KvStore& store,
                                                        invoker::LambdaService& lambda,
                                                        GatewayOptions options = {});
  ~GatewayService();
  GatewayService(const GatewayService&) = delete;
  GatewayService& operator=(const GatewayService&) = delete;

  // The endpoint's base URL ("http://127.0.0.1:4747"), once listening: used in ApiEndpoint.
  void SetEndpoint(std::string endpoint);

  // True when the request is for a gateway route (/_api/... or an execute-api Host); then it is
  // answered. Call before any authentication: routes are public HTTP.
  bool HandleRoute(HttpRequest& request, const std::shared_ptr<Responder>& responder);
  // True when the request is for the management API (/v2/apis...); then it is answered.
  bool HandleManagement(HttpRequest& request, const std::shared_ptr<Responder>& responder);
  // True when a request whose body was over the endpoint's limit was for a gateway route; then
  // *response is the answer (413).
  bool RouteTooLarge(const HttpRequest& request, HttpResponse* response) const;

 private:
  struct Impl;
  explicit GatewayService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::gateway
