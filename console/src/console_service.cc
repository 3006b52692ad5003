// ConsoleService: maps / and /_console/<file> to the embedded assets.
#include "haneul/console/console_service.h"

#include "console_assets.h"

namespace haneul::console {

namespace {

std::string ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

bool LooksLikeAws(const HttpRequest& request) {
  if (request.headers.Has("Authorization") || request.headers.Has("X-Amz-Target")) return true;
  for (const auto& [name, value] : request.headers.all()) {
    if (name.size() > 6 && (name.starts_with("x-amz-") || name.starts_with("X-Amz-"))) return true;
  }
  return request.query.find("X-Amz-") != std::string::npos;
}

}  // namespace

bool ConsoleService::Handle(const HttpRequest& request,
                            const std::shared_ptr<Responder>& responder) const {
  if (request.method != "GET" && request.method != "HEAD") return false;
  std::string_view name;
  if (request.path == "/" && request.query.empty() && !LooksLikeAws(request)) {
    name = "index.html";
  } else if (request.path.starts_with("/_console/")) {
    name = std::string_view(request.path).substr(10);
  } else {
    return false;
  }
  for (const Asset& asset : Assets()) {
    if (asset.name != name) continue;
    HttpResponse response;
    response.status = 200;
    response.headers.Set("Content-Type", ContentType(name));
    response.headers.Set("Cache-Control", "no-cache");
    response.headers.Set("X-Content-Type-Options", "nosniff");
    if (request.method == "GET") response.body = std::string(asset.content);
    responder->Respond(std::move(response));
    return true;
  }
  HttpResponse missing;
  missing.status = 404;
  missing.headers.Set("Content-Type", "text/plain; charset=utf-8");
  missing.body = "no such console file\n";
  responder->Respond(std::move(missing));
  return true;
}

}  // namespace haneul::console
