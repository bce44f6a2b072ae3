#include "syncstream/nats/credentials.h"

#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace syncstream::nats {
namespace {

using ::testing::HasSubstr;

constexpr const char* kVariables[] = {
    "SYNCSTREAM_NATS_USER",          "SYNCSTREAM_NATS_PASSWORD",
    "SYNCSTREAM_NATS_PASSWORD_FILE", "SYNCSTREAM_NATS_TOKEN",
    "SYNCSTREAM_NATS_TOKEN_FILE",    "SYNCSTREAM_NATS_NKEY",
    "SYNCSTREAM_NATS_NKEY_SEED_FILE", "SYNCSTREAM_NATS_CREDS_FILE",
    "SYNCSTREAM_NATS_TLS_CA_FILE",   "SYNCSTREAM_NATS_TLS_CERT_FILE",
    "SYNCSTREAM_NATS_TLS_KEY_FILE"};

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVariables) unsetenv(name);
  }
  void TearDown() override { SetUp(); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string path = std::string(tmp ? tmp : "/tmp") + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(CredentialsTest, NoneIsAnonymous) {
  absl::StatusOr<JetStreamCredentials> c =
      JetStreamCredentialsFromEnvironment();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->user.empty());
  EXPECT_TRUE(c->token.empty());
  EXPECT_FALSE(c->tls());
}

TEST_F(CredentialsTest, PasswordFromTheEnvironmentOrItsFile) {
  setenv("SYNCSTREAM_NATS_USER", "u", 1);
  setenv("SYNCSTREAM_NATS_PASSWORD", "direct", 1);
  absl::StatusOr<JetStreamCredentials> c =
      JetStreamCredentialsFromEnvironment();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->password, "direct");
  unsetenv("SYNCSTREAM_NATS_PASSWORD");
  setenv("SYNCSTREAM_NATS_PASSWORD_FILE",
         WriteFile("password", "from-file\r\nsecond line\n").c_str(), 1);
  c = JetStreamCredentialsFromEnvironment();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->password, "from-file");
  // Both at once is ambiguous.
  setenv("SYNCSTREAM_NATS_PASSWORD", "direct", 1);
  c = JetStreamCredentialsFromEnvironment();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CredentialsTest, AnUnreadableOrEmptySecretFileIsNamed) {
  setenv("SYNCSTREAM_NATS_TOKEN_FILE", "/nonexistent/token", 1);
  absl::StatusOr<JetStreamCredentials> c =
      JetStreamCredentialsFromEnvironment();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("SYNCSTREAM_NATS_TOKEN_FILE"));
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/token"));
  setenv("SYNCSTREAM_NATS_TOKEN_FILE", WriteFile("empty", "\n").c_str(), 1);
  c = JetStreamCredentialsFromEnvironment();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("empty first line"));
}

TEST_F(CredentialsTest, ValidateRefusesIncompleteOrAmbiguousSets) {
  struct Case {
    JetStreamCredentials c;
    const char* problem;  // nullptr: valid
  };
  JetStreamCredentials user;
  user.user = "u";
  user.password = "p";
  JetStreamCredentials token;
  token.token = "t";
  JetStreamCredentials both = user;
  both.token = "t";
  JetStreamCredentials lone_user;
  lone_user.user = "u";
  JetStreamCredentials lone_seed;
  lone_seed.nkey_seed_file = "/seed";
  JetStreamCredentials lone_cert;
  lone_cert.tls_cert_file = "/cert";
  JetStreamCredentials tls = token;
  tls.tls_ca_file = "/ca";
  const Case cases[] = {
      {user, nullptr},
      {token, nullptr},
      {tls, nullptr},
      {both, "more than one"},
      {lone_user, "needs a password"},
      {lone_seed, "seed file its public nkey"},
      {lone_cert, "needs its key file"},
  };
  for (const Case& c : cases) {
    absl::Status valid = c.c.Validate();
    if (c.problem == nullptr) {
      EXPECT_TRUE(valid.ok()) << valid;
    } else {
      EXPECT_EQ(valid.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(valid.message(), HasSubstr(c.problem));
    }
  }
  EXPECT_TRUE(tls.tls());
  EXPECT_FALSE(token.tls());
}

}  // namespace
}  // namespace syncstream::nats
