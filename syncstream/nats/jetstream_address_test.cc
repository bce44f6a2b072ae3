#include "syncstream/nats/jetstream_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace syncstream::nats {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(JetStreamAddressTest, ParsesOneServer) {
  absl::StatusOr<JetStreamAddress> a =
      ParseJetStreamAddress("nats://127.0.0.1:4222/LINES");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->servers.size(), 1u);
  EXPECT_EQ(a->servers[0].host, "127.0.0.1");
  EXPECT_EQ(a->servers[0].port, 4222);
  EXPECT_EQ(a->stream, "LINES");
  EXPECT_EQ(a->ToString(), "nats://127.0.0.1:4222/LINES");
  EXPECT_THAT(a->ServerUrls(), ElementsAre("nats://127.0.0.1:4222"));
  EXPECT_EQ(a->StreamSubjects(), "syncstream.LINES.>");
}

TEST(JetStreamAddressTest, ParsesSeveralServersAndIpv6) {
  absl::StatusOr<JetStreamAddress> a =
      ParseJetStreamAddress("nats://n1.example:4222,[::1]:5222,n-3:1/build_42");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->servers.size(), 3u);
  EXPECT_EQ(a->servers[1].host, "::1");
  EXPECT_EQ(a->servers[1].port, 5222);
  EXPECT_EQ(a->stream, "build_42");
  EXPECT_EQ(a->ToString(), "nats://n1.example:4222,[::1]:5222,n-3:1/build_42");
  EXPECT_THAT(a->ServerUrls(),
              ElementsAre("nats://n1.example:4222", "nats://[::1]:5222",
                          "nats://n-3:1"));
  absl::StatusOr<JetStreamAddress> again = ParseJetStreamAddress(a->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
}

TEST(JetStreamAddressTest, RefusesMalformedAddressesNamingTheProblem) {
  struct Case {
    const char* text;
    const char* problem;
  };
  const Case cases[] = {
      {"tcp:1.2.3.4:5", "does not start with nats://"},
      {"nats://1.2.3.4:5", "no /STREAM"},
      {"nats:///S", "no server"},
      {"nats://host/S", "has no port"},
      {"nats://host:0/S", "from 1 to 65535"},
      {"nats://host:65536/S", "from 1 to 65535"},
      {"nats://host:+42/S", "from 1 to 65535"},
      {"nats://host:4222,/S", "has no port"},
      {"nats://::1:4222/S", "in brackets"},
      {"nats://[::1/S", "[IPV6]:PORT"},
      {"nats://[zz]:1/S", "no IPv6 address"},
      {"nats://ho st:1/S", "no host name"},
      {"nats://h:1/", "empty stream name"},
      {"nats://h:1/a.b", "stream name"},
      {"nats://h:1/a b", "stream name"},
      {"nats://h:1/a>", "stream name"},
      {"nats://h:1/a/b", "stream name"},
      {"nats://h:1/"
       "0123456789012345678901234567890123456789012345678901234567890123456",
       "longer than 64"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<JetStreamAddress> a = ParseJetStreamAddress(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(a.status().message(), HasSubstr(c.problem)) << c.text;
    EXPECT_THAT(a.status().message(), HasSubstr(c.text)) << c.text;
  }
}

TEST(JetStreamAddressTest, SenderSubjectsKeepDistinctNamesDistinct) {
  JetStreamAddress a = *ParseJetStreamAddress("nats://h:1/S");
  EXPECT_EQ(a.SenderSubject("worker-3_x"), "syncstream.S.worker-3_x");
  EXPECT_EQ(a.SenderSubject("host:42.1"), "syncstream.S.host%3A42%2E1");
  EXPECT_NE(a.SenderSubject("a.b"), a.SenderSubject("a_b"));
  EXPECT_NE(a.SenderSubject("a b"), a.SenderSubject("a%20b"));
  EXPECT_EQ(a.SenderSubject(""), "syncstream.S.%");
}

}  // namespace
}  // namespace syncstream::nats
