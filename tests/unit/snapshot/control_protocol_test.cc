// The fork-server control protocol: request encoding, descriptors passed with a request, and the
// copy's hello carrying its pid.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fork_server/control_protocol.h"

namespace haneul::snapshot::fork_server {
namespace {

TEST(ForkServerProtocol, RequestRoundTrips) {
  ForkRequest request{"env-1", {"A=1", "LOG=x=y"}};
  auto decoded = DecodeForkRequest(EncodeForkRequest(request));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->id, "env-1");
  ASSERT_EQ(decoded->environment.size(), 2u);
  EXPECT_EQ(decoded->environment[0], "A=1");
  EXPECT_EQ(decoded->environment[1], "LOG=x=y");
}

TEST(ForkServerProtocol, RefusesMalformedRequests) {
  for (const char* bad : {"", "[]", "{}", R"({"op":"exec","id":"a","env":{}})",
                          R"({"op":"fork","id":"","env":{}})", R"({"op":"fork","id":"a"})",
                          R"({"op":"fork","id":"a","env":{"A":1}})", "{\"op\":"}) {
    EXPECT_FALSE(DecodeForkRequest(bad).ok()) << bad;
  }
  EXPECT_FALSE(DecodeForkRequest(std::string(kMaxForkRequestBytes + 1, ' ')).ok());
}

TEST(ForkServerProtocol, PassesFourDescriptorsWithARequest) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
  int pipes[4][2];
  std::array<int, kForkRequestFds> fds{};
  for (size_t i = 0; i < kForkRequestFds; ++i) {
    ASSERT_EQ(pipe(pipes[i]), 0);
    fds[i] = pipes[i][1];
  }
  ASSERT_TRUE(SendForkRequest(pair[0], {"copy", {"X=1"}}, fds).ok());
  for (auto& p : pipes) close(p[1]);
  auto received = ReceiveForkRequest(pair[1]);
  ASSERT_TRUE(received.ok()) << received.status().message();
  EXPECT_EQ(received->request.id, "copy");
  // Each received descriptor is the write end of the matching pipe.
  for (size_t i = 0; i < kForkRequestFds; ++i) {
    char byte = static_cast<char>('a' + i);
    ASSERT_EQ(write(received->fds[i], &byte, 1), 1);
    close(received->fds[i]);
    char got = 0;
    ASSERT_EQ(read(pipes[i][0], &got, 1), 1);
    EXPECT_EQ(got, byte);
    close(pipes[i][0]);
  }
  close(pair[0]);
  close(pair[1]);
}

TEST(ForkServerProtocol, RefusesARequestWithoutDescriptors) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
  std::string payload = EncodeForkRequest({"copy", {}});
  ASSERT_EQ(send(pair[0], payload.data(), payload.size(), 0),
            static_cast<ssize_t>(payload.size()));
  EXPECT_FALSE(ReceiveForkRequest(pair[1]).ok());
  close(pair[0]);
  EXPECT_EQ(ReceiveForkRequest(pair[1]).status().code(), Status::Code::kUnavailable);
  close(pair[1]);
}

TEST(ForkServerProtocol, HelloCarriesTheSendersPid) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
  int one = 1;
  ASSERT_EQ(setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pair[0]);
    _exit(send(pair[1], "R", 1, 0) == 1 ? 0 : 1);
  }
  close(pair[1]);
  auto pid = ReceiveHello(pair[0], std::chrono::milliseconds(5000));
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  EXPECT_EQ(*pid, child);
  waitpid(child, nullptr, 0);
  close(pair[0]);
}

TEST(ForkServerProtocol, HelloReportsACopyThatDiedFirst) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
  close(pair[1]);
  auto pid = ReceiveHello(pair[0], std::chrono::milliseconds(5000));
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().code(), Status::Code::kUnavailable);
  close(pair[0]);
}

}  // namespace
}  // namespace haneul::snapshot::fork_server
