// The fork-server control protocol between the invoker and a template process.
//
// The template (our python runtime, after its init) listens on an abstract AF_UNIX SOCK_SEQPACKET
// socket in its own network namespace, named by HANEUL_SNAPSHOT_CONTROL ("@name"). The invoker
// connects once. Each message from the invoker is one fork request: a JSON object
//   {"op": "fork", "id": "<environment id>", "env": {"NAME": "value", ...}}
// carrying exactly four descriptors (SCM_RIGHTS), in this order: the copy's connected Runtime API
// socket, the write ends of its stdout and stderr pipes, and its lifeline (a SOCK_SEQPACKET
// socket). The template forks; the copy sends one byte ("R") on its lifeline, and the invoker,
// which set SO_PASSCRED on its end, learns the copy's pid as the host sees it from the
// credentials the kernel attaches. The template closes its copies of the descriptors, so a copy
// that dies before saying hello shows as end-of-file on the lifeline.
// Thread-safety: plain functions on descriptors the caller owns.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::snapshot::fork_server {

inline constexpr size_t kForkRequestFds = 4;
inline constexpr size_t kMaxForkRequestBytes = 60 * 1024;

struct ForkRequest {
  std::string id;
  std::vector<std::string> environment;  // "NAME=value"
};

std::string EncodeForkRequest(const ForkRequest& request);
// Refuses what is not such an object (InvalidArgument), as the template does.
Result<ForkRequest> DecodeForkRequest(std::string_view bytes);

// Sends one request with its descriptors (the caller keeps and later closes its own copies).
Status SendForkRequest(int socket, const ForkRequest& request,
                       const std::array<int, kForkRequestFds>& fds);

struct ReceivedForkRequest {
  ForkRequest request;
  std::array<int, kForkRequestFds> fds{-1, -1, -1, -1};  // owned by the receiver
};
// The template's side (used by the tests; the real template is the python runtime).
Result<ReceivedForkRequest> ReceiveForkRequest(int socket);

// Waits up to timeout for the copy's hello on the invoker's end of a lifeline (which must have
// SO_PASSCRED set) and returns the copy's pid. End-of-file or a timeout is an Unavailable status.
Result<pid_t> ReceiveHello(int lifeline, std::chrono::milliseconds timeout);

}  // namespace haneul::snapshot::fork_server
