// Key authentication of the transport: the handshake's outcomes on both sides.
#include <stdlib.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "syncstream/core/child_process.h"
#include "syncstream/net/auth_key.h"
#include "syncstream/net/connection.h"
#include "syncstream/net/listener.h"
#include "syncstream/net/testing/test_server.h"
#include "syncstream/proto/record.pb.h"

namespace syncstream::net {
namespace {

using ::testing::HasSubstr;
using testing::LoopbackAddress;
using testing::ServerThread;
using testing::UniqueUnixAddress;

constexpr absl::Duration kTimeout = absl::Seconds(10);
constexpr char kWrongKeyMessage[] =
    "authentication failed: peer did not prove knowledge of the key";

AuthKey Key(const std::string& text) {
  absl::StatusOr<AuthKey> key = AuthKey::FromBytes(text);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : AuthKey();
}

ConnectionOptions WithKey(AuthKey key) {
  ConnectionOptions options;
  options.service = "test";
  options.key = std::move(key);
  options.handshake_timeout = absl::Seconds(5);
  return options;
}

struct Outcome {
  absl::Status client;
  absl::Status server;
};

// Connects a client with `client_key` to a server with `server_key` and
// sends one record through when both accept.
Outcome Handshake(const Address& address, AuthKey server_key,
                  AuthKey client_key) {
  Outcome outcome;
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listener::Listen(address, WithKey(std::move(server_key)));
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) return outcome;
  ServerThread server(std::move(*listener), [&](Listener& l) {
    auto c = l.Accept(kTimeout);
    outcome.server = c.status();
    if (c.ok()) {
      proto::Record r;
      outcome.server = (*c)->Receive(&r, kTimeout);
      if (outcome.server.ok()) outcome.server = (*c)->SendNow(r, kTimeout);
    }
  });
  auto c = Connection::Connect(server.address(), WithKey(std::move(client_key)),
                               kTimeout);
  outcome.client = c.status();
  if (c.ok()) {
    proto::Record r;
    r.set_text("hello");
    outcome.client = (*c)->SendNow(r, kTimeout);
    if (outcome.client.ok()) outcome.client = (*c)->Receive(&r, kTimeout);
    if (outcome.client.ok()) {
      EXPECT_EQ(r.text(), "hello");
    }
  }
  server.Join();
  return outcome;
}

TEST(AuthTest, SameKeyIsAcceptedOverTcpAndUnix) {
  for (const Address& address : {LoopbackAddress(), UniqueUnixAddress()}) {
    Outcome o = Handshake(address, Key("0123456789abcdef-shared"),
                          Key("0123456789abcdef-shared"));
    EXPECT_TRUE(o.client.ok()) << o.client;
    EXPECT_TRUE(o.server.ok()) << o.server;
  }
}

TEST(AuthTest, NoKeyOnEitherSideIsAcceptedOnLoopback) {
  Outcome o = Handshake(LoopbackAddress(), AuthKey(), AuthKey());
  EXPECT_TRUE(o.client.ok()) << o.client;
  EXPECT_TRUE(o.server.ok()) << o.server;
}

TEST(AuthTest, WrongKeyFailsClearlyOnBothSides) {
  Outcome o = Handshake(LoopbackAddress(), Key("0123456789abcdef-server"),
                        Key("0123456789abcdef-client"));
  EXPECT_EQ(o.client.code(), absl::StatusCode::kUnauthenticated) << o.client;
  EXPECT_THAT(o.client.message(), HasSubstr(kWrongKeyMessage));
  EXPECT_THAT(o.client.message(), HasSubstr("connection to tcp:127.0.0.1:"));
  EXPECT_EQ(o.server.code(), absl::StatusCode::kUnauthenticated) << o.server;
  EXPECT_THAT(o.server.message(), HasSubstr(kWrongKeyMessage));
  EXPECT_THAT(o.server.message(), HasSubstr("connection from 127.0.0.1:"));
}

TEST(AuthTest, ClientWithoutKeyIsRejectedByAServerWithOne) {
  Outcome o = Handshake(LoopbackAddress(), Key("0123456789abcdef-server"),
                        AuthKey());
  EXPECT_EQ(o.client.code(), absl::StatusCode::kUnauthenticated) << o.client;
  EXPECT_THAT(o.client.message(),
              HasSubstr("the server requires a key and none was given"));
  EXPECT_THAT(o.client.message(), HasSubstr("SYNCSTREAM_AUTH_KEY"));
  EXPECT_EQ(o.server.code(), absl::StatusCode::kUnauthenticated) << o.server;
  EXPECT_THAT(o.server.message(), HasSubstr(kWrongKeyMessage));
}

TEST(AuthTest, ClientWithKeyRefusesAServerWithout) {
  Outcome o = Handshake(UniqueUnixAddress(), AuthKey(),
                        Key("0123456789abcdef-client"));
  EXPECT_EQ(o.client.code(), absl::StatusCode::kUnauthenticated) << o.client;
  EXPECT_THAT(o.client.message(), HasSubstr(kWrongKeyMessage));
  EXPECT_THAT(o.client.message(), HasSubstr("the server has no key"));
  EXPECT_EQ(o.server.code(), absl::StatusCode::kUnauthenticated) << o.server;
}

TEST(AuthTest, NonLoopbackWithoutKeyIsRefusedBeforeBinding) {
  for (const char* text : {"tcp:0.0.0.0:0", "[::]:0", "10.11.12.13:0"}) {
    absl::StatusOr<std::unique_ptr<Listener>> listener =
        Listener::Listen(*ParseAddress(text), WithKey(AuthKey()));
    ASSERT_FALSE(listener.ok()) << text;
    EXPECT_EQ(listener.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(listener.status().message(),
                HasSubstr(ParseAddress(text)->ToString()));
    EXPECT_THAT(listener.status().message(),
                HasSubstr("non-loopback address without an authentication "
                          "key"));
  }
}

std::string WriteFile(const std::string& name, const std::string& contents,
                      mode_t mode = 0600) {
  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path, std::ios::binary) << contents;
  ::chmod(path.c_str(), mode);
  return path;
}

// A key file other users can read is no secret: refused, as ssh refuses
// such private keys (0644 used to be accepted silently).
TEST(AuthKeyTest, KeyFilesOthersCanReadOrWriteAreRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0666}) {
    const std::string path =
        WriteFile(absl::StrCat("open", mode), "0123456789abcdef\n", mode);
    absl::StatusOr<AuthKey> key = AuthKey::FromFile(path);
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(key.status().message(), HasSubstr("chmod 600"));
    EXPECT_THAT(key.status().message(), HasSubstr(path));
  }
  for (mode_t mode : {0600, 0400}) {
    absl::StatusOr<AuthKey> key = AuthKey::FromFile(
        WriteFile(absl::StrCat("closed", mode), "0123456789abcdef\n", mode));
    EXPECT_TRUE(key.ok()) << key.status();
  }
}

TEST(AuthKeyTest, FileKeyDropsOneTrailingLineBreak) {
  absl::StatusOr<AuthKey> key =
      AuthKey::FromFile(WriteFile("k1", "0123456789abcdef\r\n"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->bytes(), "0123456789abcdef");
  key = AuthKey::FromFile(WriteFile("k2", "0123456789abcdef  \n\n"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->bytes(), "0123456789abcdef  \n");
}

TEST(AuthKeyTest, ShortOrMissingKeysAreErrorsNamingTheSource) {
  absl::StatusOr<AuthKey> key = AuthKey::FromFile(WriteFile("k3", "short\n"));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key.status().message(), HasSubstr("k3"));
  EXPECT_THAT(key.status().message(), HasSubstr("too short"));
  key = AuthKey::FromFile("/nonexistent/key");
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(key.status().message(), HasSubstr("/nonexistent/key"));
}

TEST(AuthKeyTest, LoadPrefersTheFileThenTheEnvironment) {
  ::unsetenv(kAuthKeyEnvVar);
  absl::StatusOr<AuthKey> none = AuthKey::Load("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ::setenv(kAuthKeyEnvVar, "environment-key-0123", 1);
  absl::StatusOr<AuthKey> env = AuthKey::Load("");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->bytes(), "environment-key-0123");
  absl::StatusOr<AuthKey> file =
      AuthKey::Load(WriteFile("k4", "file-key-0123456789"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->bytes(), "file-key-0123456789");
  ::setenv(kAuthKeyEnvVar, "short", 1);
  EXPECT_THAT(AuthKey::Load("").status().message(),
              HasSubstr("$SYNCSTREAM_AUTH_KEY"));
  ::unsetenv(kAuthKeyEnvVar);
}

// A server without a key on loopback TCP or a Unix socket served every
// local user (send, clear, stop). It now serves its own user only: a child
// that became another user is refused, with the reason on both sides.
TEST(AuthPeerUserTest, KeylessServerRefusesOtherLocalUsers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  // Short (sun_path) and reachable by the other user.
  const std::string unix_path =
      absl::StrCat("/tmp/syncstream-keyless-", ::getpid(), ".sock");
  for (const std::string& where :
       {std::string("tcp:127.0.0.1:0"), "unix:" + unix_path}) {
    ConnectionOptions options;
    options.service = "test";
    const mode_t old_umask = ::umask(0);  // must not open the socket up
    auto listener = Listener::Listen(*ParseAddress(where), options);
    ::umask(old_umask);
    ASSERT_TRUE(listener.ok()) << listener.status();
    if (where.rfind("unix:", 0) == 0) {
      struct stat st;
      ASSERT_EQ(::stat(unix_path.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0600u);
      // Others need to connect through the mode too: open it for the test.
      ASSERT_EQ(::chmod(unix_path.c_str(), 0666), 0);
    }
    const Address address = (*listener)->address();
    absl::Status server_side;
    std::thread server([&] {
      server_side = (*listener)->Accept(absl::Seconds(10)).status();
    });
    auto child = ChildProcess::Fork([&]() -> int {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 3;
      absl::StatusOr<std::unique_ptr<Connection>> c =
          Connection::Connect(address, options, absl::Seconds(10));
      if (c.ok()) return 1;
      std::string why(c.status().message());
      return why.find("serves only its own user") != std::string::npos ? 0
                                                                        : 2;
    });
    ASSERT_TRUE(child.ok()) << child.status();
    auto exited = child->Wait(absl::Seconds(20));
    server.join();
    ASSERT_TRUE(exited.ok()) << exited.status();
    EXPECT_TRUE(exited->success()) << where << ": " << exited->ToString();
    EXPECT_EQ(server_side.code(), absl::StatusCode::kPermissionDenied)
        << where << ": " << server_side;
    // This user still gets in.
    std::thread again([&] {
      server_side = (*listener)->Accept(absl::Seconds(10)).status();
    });
    EXPECT_TRUE(Connection::Connect(address, options, absl::Seconds(10)).ok());
    again.join();
    EXPECT_TRUE(server_side.ok()) << server_side;
  }
}

}  // namespace
}  // namespace syncstream::net
