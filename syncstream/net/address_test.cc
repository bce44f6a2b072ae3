#include "syncstream/net/address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace syncstream::net {
namespace {

using ::testing::HasSubstr;

TEST(AddressTest, ParsesUnixPaths) {
  absl::StatusOr<Address> a = ParseAddress("unix:/tmp/x.sock");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->is_unix());
  EXPECT_EQ(a->path, "/tmp/x.sock");
  EXPECT_EQ(a->ToString(), "unix:/tmp/x.sock");
  EXPECT_TRUE(a->IsLocal());
}

TEST(AddressTest, ParsesJetStreamStreams) {
  absl::StatusOr<Address> a = ParseAddress("nats://127.0.0.1:4222,n2:4222/S");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->is_jetstream());
  EXPECT_EQ(a->jetstream.stream, "S");
  EXPECT_EQ(a->jetstream.servers.size(), 2u);
  EXPECT_EQ(a->ToString(), "nats://127.0.0.1:4222,n2:4222/S");
  EXPECT_FALSE(a->IsLocal());
  absl::StatusOr<std::vector<SocketAddress>> resolved = Resolve(*a);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Address> bad = ParseAddress("nats://127.0.0.1:4222");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("no /STREAM"));
}

TEST(AddressTest, ParsesTcpWithAndWithoutPrefix) {
  absl::StatusOr<Address> a = ParseAddress("tcp:127.0.0.1:7000");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7000);
  absl::StatusOr<Address> b = ParseAddress("localhost:0");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->port, 0);
  EXPECT_EQ(b->ToString(), "tcp:localhost:0");
}

TEST(AddressTest, ParsesBracketedIpv6) {
  absl::StatusOr<Address> a = ParseAddress("tcp:[::1]:80");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->ToString(), "tcp:[::1]:80");
  EXPECT_TRUE(a->IsLocal());
}

TEST(AddressTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "unix:", "nohost", ":80", "h:99999", "h:x",
                          "tcp:::1:80", "[::1]80"}) {
    absl::StatusOr<Address> a = ParseAddress(bad);
    EXPECT_FALSE(a.ok()) << bad;
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(a.status().message(), HasSubstr("address '"));
    }
  }
}

TEST(AddressTest, LoopbackIsLocalAndOthersAreNot) {
  EXPECT_TRUE(ParseAddress("127.0.0.1:1")->IsLocal());
  EXPECT_TRUE(ParseAddress("127.9.9.9:1")->IsLocal());
  EXPECT_TRUE(ParseAddress("localhost:1")->IsLocal());
  EXPECT_FALSE(ParseAddress("0.0.0.0:1")->IsLocal());
  EXPECT_FALSE(ParseAddress("10.1.2.3:1")->IsLocal());
  EXPECT_FALSE(ParseAddress("[::]:1")->IsLocal());
}

}  // namespace
}  // namespace syncstream::net
