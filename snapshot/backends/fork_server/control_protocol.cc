// The fork-server control protocol; see control_protocol.h.
#include "control_protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace haneul::snapshot::fork_server {

std::string EncodeForkRequest(const ForkRequest& request) {
  nlohmann::json env = nlohmann::json::object();
  for (const std::string& entry : request.environment) {
    auto equals = entry.find('=');
    if (equals == std::string::npos) continue;
    env[entry.substr(0, equals)] = entry.substr(equals + 1);
  }
  return nlohmann::json{{"op", "fork"}, {"id", request.id}, {"env", env}}.dump();
}

Result<ForkRequest> DecodeForkRequest(std::string_view bytes) {
  if (bytes.size() > kMaxForkRequestBytes) {
    return Status::InvalidArgument("fork request over " + std::to_string(kMaxForkRequestBytes) +
                                   " bytes");
  }
  auto json = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::InvalidArgument("fork request is not a JSON object");
  auto op = json.find("op");
  auto id = json.find("id");
  auto env = json.find("env");
  if (op == json.end() || *op != "fork") return Status::InvalidArgument("fork request: bad op");
  if (id == json.end() || !id->is_string() || id->get<std::string>().empty()) {
    return Status::InvalidArgument("fork request: bad id");
  }
  if (env == json.end() || !env->is_object()) {
    return Status::InvalidArgument("fork request: bad env");
  }
  ForkRequest request;
  request.id = id->get<std::string>();
  for (const auto& [name, value] : env->items()) {
    if (!value.is_string()) return Status::InvalidArgument("fork request: env value of " + name);
    request.environment.push_back(name + "=" + value.get<std::string>());
  }
  return request;
}

Status SendForkRequest(int socket, const ForkRequest& request,
                       const std::array<int, kForkRequestFds>& fds) {
  std::string payload = EncodeForkRequest(request);
  if (payload.size() > kMaxForkRequestBytes) {
    return Status::InvalidArgument("fork request too large");
  }
  iovec io{payload.data(), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kForkRequestFds)] = {};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * kForkRequestFds);
  std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * kForkRequestFds);
  ssize_t sent;
  do {
    sent = sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Status::FromErrno("send fork request");
  if (static_cast<size_t>(sent) != payload.size()) {
    return Status::IoError("fork request sent in part");
  }
  return Status::Ok();
}

Result<ReceivedForkRequest> ReceiveForkRequest(int socket) {
  std::string buffer(kMaxForkRequestBytes + 1, '\0');
  iovec io{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kForkRequestFds)] = {};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return Status::FromErrno("receive fork request");
  if (received == 0) return Status::Unavailable("control channel closed");
  ReceivedForkRequest out;
  size_t count = 0;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      if (count < kForkRequestFds) {
        out.fds[count++] = fd;
      } else {
        close(fd);
      }
    }
  }
  auto close_all = [&] {
    for (int& fd : out.fds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  };
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || count != kForkRequestFds) {
    close_all();
    return Status::InvalidArgument("fork request without its " +
                                   std::to_string(kForkRequestFds) + " descriptors");
  }
  auto request = DecodeForkRequest(std::string_view(buffer.data(), static_cast<size_t>(received)));
  if (!request.ok()) {
    close_all();
    return request.status();
  }
  out.request = std::move(*request);
  return out;
}

Result<pid_t> ReceiveHello(int lifeline, std::chrono::milliseconds timeout) {
  pollfd poll_fd{lifeline, POLLIN, 0};
  int ready;
  do {
    ready = poll(&poll_fd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return Status::FromErrno("poll lifeline");
  if (ready == 0) {
    return Status::Unavailable("the copy did not start within " +
                               std::to_string(timeout.count()) + " ms");
  }
  char byte = 0;
  iovec io{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))] = {};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(lifeline, &message, MSG_DONTWAIT);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return Status::FromErrno("receive hello");
  if (received == 0) return Status::Unavailable("the copy exited before it started");
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_CREDENTIALS) {
      ucred credentials{};
      std::memcpy(&credentials, CMSG_DATA(header), sizeof(credentials));
      if (credentials.pid > 0) return credentials.pid;
    }
  }
  return Status::Internal("the copy's hello carried no credentials (SO_PASSCRED unset?)");
}

}  // namespace haneul::snapshot::fork_server
