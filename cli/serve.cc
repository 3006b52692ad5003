// `haneul serve`: opens the data directory, builds the services and serves them on one endpoint.
// Routing follows DESIGN.md: Lambda by path (/2015-03-31/...), CloudWatch Logs by X-Amz-Target.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <optional>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "client_commands.h"
#include "commands.h"
#include "haneul/common/auth_gate.h"
#include "haneul/common/http_client.h"
#include "haneul/common/http.h"
#include "haneul/common/ids.h"
#include "haneul/common/kv_store.h"
#include "haneul/common/log.h"
#include "haneul/common/sigv4.h"
#include "haneul/console/console_service.h"
#include "haneul/gateway/gateway_service.h"
#include "haneul/invoker/lambda_service.h"
#include "haneul/invoker/logs_service.h"
#include "haneul/table/table_service.h"
#include "haneul/triggers/trigger_service.h"
#include "haneul/objects/object_service.h"
#include "table_wiring.h"

namespace haneul::cli {

namespace {

// The largest request the endpoint reads: a CreateFunction with a 50 MB zip, base64-encoded.
constexpr size_t kEndpointBodyLimit = 70 * 1024 * 1024;

struct ServeFlags {
  std::string host = "127.0.0.1";
  int port = 4747;
  std::string data;
  std::string runtimes;
  std::string python = "/usr/bin/python3";
  std::string node = "/usr/bin/node";
  std::string sandbox = "auto";
  std::string log_level = "info";
  bool example = false;
  size_t max_environments = 4096;
  int max_function_memory_mb = 0;
  int account_concurrency = 1000;
  int keep_alive_seconds = 600;
  int64_t memory_budget_mb = 0;
  int64_t async_retry_delay_ms = 60000;
  bool prewarm = false;
  int freeze_after_ms = 100;
  int sandbox_uid = 993;
  int sandbox_gid = 990;
  std::string table_clock_file;  // --test-clock-file: the table service's injected clock
  // --table-sync: on, table writes are answered once their WAL is fsynced (survives power
  // loss); off, once it is written (survives the server's crash, not the machine's).
  bool table_sync = true;
  bool sandbox_host_network = false;
  std::vector<std::string> credentials;  // ACCESS_KEY:SECRET pairs; requests must be signed
};

bool ParseServeFlags(int argc, char** argv, ServeFlags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string text;
    if (arg == "--host") {
      if (!value(&flags->host)) return false;
    } else if (arg == "--port") {
      if (!value(&text)) return false;
      flags->port = std::atoi(text.c_str());
      if (flags->port < 0 || flags->port > 65535) return false;
    } else if (arg == "--data") {
      if (!value(&flags->data)) return false;
    } else if (arg == "--runtimes-dir") {
      if (!value(&flags->runtimes)) return false;
    } else if (arg == "--python") {
      if (!value(&flags->python)) return false;
    } else if (arg == "--node") {
      if (!value(&flags->node)) return false;
    } else if (arg == "--sandbox") {
      if (!value(&flags->sandbox)) return false;
    } else if (arg == "--log-level") {
      if (!value(&flags->log_level)) return false;
    } else if (arg == "--test-clock-file") {
      // Tests only: the table clock (streams, TTL, PITR) read from this file (unix ms).
      if (!value(&flags->table_clock_file)) return false;
    } else if (arg == "--table-sync") {
      if (!value(&text) || (text != "on" && text != "off")) return false;
      flags->table_sync = text == "on";
    } else if (arg == "--max-environments") {
      if (!value(&text)) return false;
      flags->max_environments = static_cast<size_t>(std::max(1, std::atoi(text.c_str())));
    } else if (arg == "--sandbox-user") {
      // UID:GID the handlers run as under the namespace sandbox.
      if (!value(&text)) return false;
      auto colon = text.find(':');
      if (colon == std::string::npos) return false;
      flags->sandbox_uid = std::atoi(text.substr(0, colon).c_str());
      flags->sandbox_gid = std::atoi(text.substr(colon + 1).c_str());
      if (flags->sandbox_uid <= 0 || flags->sandbox_gid <= 0) return false;
    } else if (arg == "--credentials") {
      if (!value(&text)) return false;
      flags->credentials.push_back(text);
    } else if (arg == "--sandbox-network") {
      // none (default): a network namespace with only loopback; host: the host's network.
      if (!value(&text) || (text != "none" && text != "host")) return false;
      flags->sandbox_host_network = text == "host";
    } else if (arg == "--max-function-memory") {
      if (!value(&text)) return false;
      flags->max_function_memory_mb = std::atoi(text.c_str());
    } else if (arg == "--account-concurrency") {
      if (!value(&text)) return false;
      flags->account_concurrency = std::atoi(text.c_str());
      if (flags->account_concurrency <= 0) return false;
    } else if (arg == "--keep-alive-seconds") {
      if (!value(&text)) return false;
      flags->keep_alive_seconds = std::atoi(text.c_str());
      if (flags->keep_alive_seconds <= 0) return false;
    } else if (arg == "--memory-budget-mb") {
      if (!value(&text)) return false;
      flags->memory_budget_mb = std::atoll(text.c_str());
      if (flags->memory_budget_mb <= 0) return false;
    } else if (arg == "--freeze-after-ms") {
      // How long an environment stays idle before it is frozen; 0 never freezes.
      if (!value(&text)) return false;
      flags->freeze_after_ms = std::atoi(text.c_str());
      if (flags->freeze_after_ms < 0) return false;
    } else if (arg == "--prewarm") {
      flags->prewarm = true;
    } else if (arg == "--async-retry-delay-ms") {
      if (!value(&text)) return false;
      flags->async_retry_delay_ms = std::atoll(text.c_str());
      if (flags->async_retry_delay_ms < 0) return false;
    } else if (arg == "--example") {
      flags->example = true;
    } else {
      std::fprintf(stderr, "haneul serve: unknown flag %s\n", arg.c_str());
      return false;
    }
  }
  return true;
}

// Deploys examples/hello-python as `hello` through the public API, as a user would (signed with
// the server's first credentials when it has some).
void DeployExample(const std::string& endpoint, const std::string& runtimes_directory,
                   std::optional<std::pair<std::string, std::string>> credentials) {
  std::string directory = runtimes_directory + "/../examples/hello-python";
  auto zip = ZipDirectory(directory);
  if (!zip.ok()) {
    std::fprintf(stderr, "haneul: example not deployed: %s\n", zip.status().message().c_str());
    return;
  }
  DeployOptions example;
  example.name = "hello";
  example.runtime = "python3.11";
  example.handler = "app.handler";
  std::string body = CreateFunctionBody(example, Base64Encode(*zip));
  HttpClient client;
  Headers headers;
  headers.Set("Content-Type", "application/json");
  if (credentials) {
    headers.Set("Host", endpoint.substr(endpoint.find("//") + 2));
    SignSigV4("POST", "/2015-03-31/functions", "", body, "lambda", "us-east-1",
              credentials->first, credentials->second, NowUnixMillis() / 1000, &headers);
  }
  auto response = client.Send("POST", endpoint + "/2015-03-31/functions", headers, body);
  if (!response.ok()) {
    std::fprintf(stderr, "haneul: example not deployed: %s\n",
                 response.status().message().c_str());
  } else if (response->status != 201) {
    std::fprintf(stderr, "haneul: example not deployed: %s\n",
                 FormatAwsError(response->status, response->headers, response->body).c_str());
  }
}

}  // namespace

int Serve(int argc, char** argv) {
  ServeFlags flags;
  if (!ParseServeFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: haneul serve [--port 4747] [--host 127.0.0.1] [--data DIR] [--example]\n"
                 "                    [--runtimes-dir DIR] [--python PATH] [--node PATH]\n"
                 "                    [--sandbox auto|namespace|process] [--max-environments N] "
                 "[--log-level info]\n"
                 "                    [--max-function-memory MB] [--sandbox-user 993:990]\n"
                 "                    [--account-concurrency 1000] [--keep-alive-seconds 600]\n"
                 "                    [--memory-budget-mb MB] [--async-retry-delay-ms 60000] [--prewarm]\n"
                 "                    [--freeze-after-ms 100] [--table-sync on|off]\n"
                 "                    [--sandbox-network none|host] [--credentials KEY:SECRET]...\n");
    return 2;
  }
  InitLogging(flags.log_level);
  // Credentials from the flags and from HANEUL_CREDENTIALS ("KEY:SECRET[,KEY:SECRET...]").
  AuthGate auth;
  if (const char* env = std::getenv("HANEUL_CREDENTIALS")) {
    std::string list = env;
    size_t start = 0;
    while (start < list.size()) {
      size_t comma = list.find(',', start);
      flags.credentials.push_back(list.substr(start, comma == std::string::npos ? comma : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  for (const std::string& pair : flags.credentials) {
    Status added = auth.AddCredentials(pair);
    if (!added.ok()) {
      std::fprintf(stderr, "haneul serve: --credentials: %s\n", added.message().c_str());
      return 2;
    }
  }
  if (flags.data.empty()) {
    const char* home = std::getenv("HOME");
    flags.data = std::string(home ? home : ".") + "/.haneul";
  }
  if (flags.runtimes.empty()) {
    const char* env = std::getenv("HANEUL_RUNTIMES_DIR");
    flags.runtimes = env ? env : invoker::DefaultRuntimesDirectory();
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.data, ec);
  if (ec) {
    std::fprintf(stderr, "haneul: cannot create data directory %s: %s\n", flags.data.c_str(),
                 ec.message().c_str());
    return 1;
  }
  auto store = KvStore::Open(flags.data + "/db");
  if (!store.ok()) {
    std::fprintf(stderr, "haneul: %s\n", store.status().message().c_str());
    return 1;
  }

  // SIGPIPE: a client that hangs up must not end the server. SIGINT/SIGTERM stop the loop.
  signal(SIGPIPE, SIG_IGN);
  EventLoop loop;
  boost::asio::signal_set signals(loop.context(), SIGINT, SIGTERM);
  signals.async_wait([&loop](boost::system::error_code, int) { loop.Stop(); });

  // The DynamoDB-compatible table service keeps its own RocksDB instance (a family per table);
  // durable writes are group-committed (one fsync for the writes of many connections).
  table::TableOptions table_options;
  table_options.loop = &loop;
  table_options.sync = flags.table_sync;
  if (const char* clock = std::getenv("HANEUL_TEST_CLOCK_FILE");
      clock && *clock && flags.table_clock_file.empty()) {
    flags.table_clock_file = clock;
  }
  if (!flags.table_clock_file.empty()) {
    table_options.now_ms = table::ClockFromFile(flags.table_clock_file);
  }
  // ExportTableToPointInTime / ImportTable reach the object store opened below.
  objects::ObjectService* objects_for_tables = nullptr;
  table_options.objects = TableObjectStoreOver([&objects_for_tables] { return objects_for_tables; });
  auto table_service = table::TableService::Open(flags.data + "/tables", table_options);
  if (!table_service.ok()) {
    std::fprintf(stderr, "haneul: %s\n", table_service.status().message().c_str());
    return 1;
  }
  // The S3-compatible object store: blobs and its own RocksDB metadata under <data>/objects.
  // Bucket notifications reach functions through ObjectService::SetNotify (wired by triggers/).
  auto object_service = objects::ObjectService::Open(flags.data + "/objects");
  if (!object_service.ok()) {
    std::fprintf(stderr, "haneul: %s\n", object_service.status().message().c_str());
    return 1;
  }
  objects_for_tables = object_service->get();

  invoker::LogStore logs(**store, &loop);
  invoker::LambdaOptions options;
  options.data_directory = flags.data;
  options.runtimes_directory = flags.runtimes;
  options.python = flags.python;
  options.node = flags.node;
  options.sandbox = flags.sandbox;
  options.max_environments = flags.max_environments;
  options.max_function_memory_mb = flags.max_function_memory_mb;
  options.account_concurrency = flags.account_concurrency;
  options.keep_alive_seconds = flags.keep_alive_seconds;
  options.memory_budget_mb = flags.memory_budget_mb;
  options.async_retry_delay_ms = flags.async_retry_delay_ms;
  options.prewarm = flags.prewarm;
  options.freeze_after_ms = flags.freeze_after_ms;
  options.sandbox_uid = flags.sandbox_uid;
  options.sandbox_gid = flags.sandbox_gid;
  options.sandbox_host_network = flags.sandbox_host_network;
  if (auto first = auth.first()) {
    options.function_access_key = first->first;
    options.function_secret_key = first->second;
  }
  auto lambda = invoker::LambdaService::Create(loop, **store, logs, options);
  if (!lambda.ok()) {
    std::fprintf(stderr, "haneul: %s\n", lambda.status().message().c_str());
    return 1;
  }
  invoker::LogsService logs_service(logs);
  // Bucket notifications are wired to Event invocations by the triggers' s3 source (below).

  // The API-Gateway-compatible front: its management API (/v2/apis) and public routes.
  gateway::GatewayOptions gateway_options;
  gateway_options.access_logs = &logs;  // stages' access logs, readable with `aws logs`
  auto gateway = gateway::GatewayService::Create(loop, **store, **lambda, gateway_options);
  if (!gateway.ok()) {
    std::fprintf(stderr, "haneul: %s\n", gateway.status().message().c_str());
    return 1;
  }

  // Event sources (triggers/): event source mappings from table streams, scheduled rules and
  // bucket notifications.
  triggers::TriggerOptions trigger_options;
  trigger_options.test_clock_file = flags.table_clock_file;  // one test clock for the server
  auto triggers = triggers::TriggerService::Create(loop, **store, **lambda, table_service->get(),
                                                   object_service->get(), trigger_options);
  if (!triggers.ok()) {
    std::fprintf(stderr, "haneul: %s\n", triggers.status().message().c_str());
    return 1;
  }

  console::ConsoleService console;
  HttpServer server(loop);
  HttpListenOptions listen;
  listen.host = flags.host;
  listen.port = static_cast<uint16_t>(flags.port);
  listen.body_limit = kEndpointBodyLimit;
  auto& lambda_service = **lambda;
  listen.too_large = [&](const HttpRequest& request) {
    HttpResponse gateway_answer;
    if ((*gateway)->RouteTooLarge(request, &gateway_answer)) return gateway_answer;
    if (objects::ObjectService::IsS3Request(request)) {
      return (*object_service)->RequestTooLarge(request);
    }
    return lambda_service.RequestTooLarge(request);
  };
  HttpHandler handle = [&](HttpRequest request, std::shared_ptr<Responder> responder) {
    // Gateway routes are public HTTP, like API Gateway's: before the console and the auth gate.
    if ((*gateway)->HandleRoute(request, responder)) return;
    // The console's pages are public static files; the APIs they call are checked like any.
    if (console.Handle(request, responder)) return;
    // With credentials configured, everything but the code-download links that GetFunction
    // hands out (capability URLs, like Lambda's presigned S3 links) and Prometheus' /metrics must
    // be SigV4-signed.
    if (auth.enabled() && !request.path.starts_with("/_haneul/code/") &&
        !(request.method == "GET" && request.path == "/metrics")) {
      if (auto refused = auth.Check(request, NowUnixMillis() / 1000)) {
        responder->Respond(std::move(*refused));
        return;
      }
    }
    if ((*gateway)->HandleManagement(request, responder)) return;
    if ((*table_service)->Handle(request, responder)) return;
    if (logs_service.Handle(request, responder)) return;
    // Before Lambda, which claims every /2015-03-31/ path (event-source-mappings are ours).
    if ((*triggers)->Handle(request, responder)) return;
    // /metrics: the invoker's page, then the table's read-cache counters.
    if (request.method == "GET" && request.path == "/metrics") {
      auto tables = table_service->get();
      responder = AppendingResponder(responder, [tables] { return tables->ReadCacheMetricsText(); });
    }
    if (lambda_service.Handle(request, responder)) return;
    // Last: S3 claims its signed requests and every unsigned path nobody else took.
    if ((*object_service)->Handle(request, responder)) return;
    HttpResponse response = HttpResponse::Json(
        404, nlohmann::json{{"message", "No service at " + request.method + " " + request.path}}
                 .dump());
    response.headers.Set("x-amzn-ErrorType", "UnknownOperationException");
    responder->Respond(std::move(response));
  };
  auto port = server.Listen(listen, handle);
  if (!port.ok()) {
    std::fprintf(stderr, "haneul: %s\n", port.status().message().c_str());
    return 1;
  }
  std::string endpoint = "http://" + flags.host + ":" + std::to_string(*port);
  // Handlers reach the same services from inside their sandbox (AWS_ENDPOINT_URL).
  lambda_service.ServeServicesToFunctions(endpoint, listen, handle);
  (*gateway)->SetEndpoint(endpoint);
  std::fprintf(stderr, "haneul: listening on %s (data %s, sandbox %s%s)\n", endpoint.c_str(),
               flags.data.c_str(), lambda_service.sandbox_name().c_str(),
               auth.enabled() ? ", requests must be signed" : "");
  std::fflush(stderr);

  std::thread example_thread;
  if (flags.example && !lambda_service.HasFunction("hello")) {
    // Through the HTTP API from another thread: the loop must be running to answer.
    example_thread = std::thread([endpoint, runtimes = flags.runtimes, first = auth.first()] {
      DeployExample(endpoint, runtimes, first);
      std::fprintf(stderr,
                   "haneul: example function `hello` ready; try:\n"
                   "  aws lambda invoke --endpoint-url %s --function-name hello "
                   "--cli-binary-format raw-in-base64-out --payload '{\"name\":\"you\"}' "
                   "/dev/stdout\n",
                   endpoint.c_str());
    });
  }
  loop.Run();
  if (example_thread.joinable()) example_thread.join();
  // Orderly shutdown: stop accepting, then end every environment (killing its worker) while the
  // loop still exists to run what their destruction posts.
  server.Close();
  loop.context().restart();
  loop.context().poll();
  triggers->reset();  // its sources call into Lambda: gone before it
  lambda->reset();
  loop.context().poll();
  std::fprintf(stderr, "haneul: stopped\n");
  return 0;
}

}  // namespace haneul::cli
