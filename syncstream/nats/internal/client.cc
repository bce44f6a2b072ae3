#include "syncstream/nats/internal/client.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace syncstream::nats::internal {
namespace {

std::string Describe(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = natsStatus_GetText(s);
  if (last != nullptr && *last != '\0' && text != last) {
    absl::StrAppend(&text, ": ", last);
  }
  return text;
}

// Releases a natsOptions on every path out of Connect.
struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};

}  // namespace

int64_t ToMillis(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(d));
}

absl::Status FromNats(natsStatus s, absl::string_view context) {
  if (s == NATS_OK) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", Describe(s));
  if (absl::StrContains(absl::AsciiStrToLower(message),
                        "authorization violation") ||
      s == NATS_CONNECTION_AUTH_FAILED) {
    return absl::UnauthenticatedError(message);
  }
  switch (s) {
    case NATS_NOT_FOUND:
      return absl::NotFoundError(message);
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(message);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_RESPONDERS:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_SLOW_CONSUMER:
    case NATS_MISSED_HEARTBEAT:
      return absl::UnavailableError(message);
    case NATS_NOT_PERMITTED:
      return absl::PermissionDeniedError(message);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_MAX_PAYLOAD:
      return absl::InvalidArgumentError(message);
    case NATS_SSL_ERROR:
    case NATS_ILLEGAL_STATE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::UnknownError(message);
  }
}

absl::Status FromJetStream(natsStatus s, jsErrCode code,
                           absl::string_view context) {
  if (s == NATS_OK) return absl::OkStatus();
  absl::Status status = FromNats(s, context);
  switch (code) {
    case JSStreamNotFoundErr:
    case JSNoMessageFoundErr:
    case JSConsumerNotFoundErr:
      return absl::NotFoundError(status.message());
    case JSClusterNotAvailErr:
    case JSClusterNoPeersErr:
    case JSInsufficientResourcesErr:
      return absl::UnavailableError(status.message());
    case JSStreamNameExistErr:
      return absl::AlreadyExistsError(status.message());
    case JSStreamReplicasNotSupportedErr:
      return absl::InvalidArgumentError(status.message());
    default:
      if (code != 0) {
        return absl::Status(status.code(), absl::StrCat(status.message(),
                                                        " (JetStream error ",
                                                        static_cast<int>(code),
                                                        ")"));
      }
      return status;
  }
}

absl::Status StreamMissing(const JetStreamAddress& address) {
  return absl::FailedPreconditionError(absl::StrCat(
      "JetStream stream '", address.stream, "' does not exist on ",
      address.ToString(), "; create it with: syncstream stream create ",
      address.ToString(), " --max_lines N [--replicas R] [--max_age D]"));
}

Client::Client(JetStreamAddress address, absl::Duration timeout)
    : address_(std::move(address)),
      name_(address_.ToString()),
      timeout_(timeout) {}

Client::~Client() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (connection_ != nullptr) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const JetStreamAddress& address, const JetStreamCredentials& credentials,
    absl::Duration timeout, const std::string& connection_name) {
  absl::Status valid = credentials.Validate();
  if (!valid.ok()) return valid;
  std::unique_ptr<Client> client(new Client(address, timeout));
  const std::string& name = client->name_;
  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  if (s != NATS_OK) return FromNats(s, name);
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);
  std::vector<std::string> urls = address.ServerUrls();
  std::vector<const char*> url_pointers;
  for (const std::string& url : urls) url_pointers.push_back(url.c_str());
  s = natsOptions_SetServers(opts.get(), url_pointers.data(),
                             static_cast<int>(url_pointers.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), ToMillis(timeout));
  if (s == NATS_OK && !connection_name.empty()) {
    s = natsOptions_SetName(opts.get(), connection_name.c_str());
  }
  // Keep reconnecting (to any server of the cluster) for as long as the
  // owner lives: the owner's own timeouts bound every wait.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), 100);
  if (s != NATS_OK) return FromNats(s, absl::StrCat(name, ": options"));
  if (!credentials.user.empty()) {
    s = natsOptions_SetUserInfo(opts.get(), credentials.user.c_str(),
                                credentials.password.c_str());
  } else if (!credentials.token.empty()) {
    s = natsOptions_SetToken(opts.get(), credentials.token.c_str());
  } else if (!credentials.nkey.empty()) {
    s = natsOptions_SetNKeyFromSeed(opts.get(), credentials.nkey.c_str(),
                                    credentials.nkey_seed_file.c_str());
  } else if (!credentials.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(
        opts.get(), credentials.creds_file.c_str(), nullptr);
  }
  if (s != NATS_OK) return FromNats(s, absl::StrCat(name, ": credentials"));
  if (credentials.tls()) {
    s = natsOptions_SetSecure(opts.get(), true);
    if (s == NATS_OK && !credentials.tls_ca_file.empty()) {
      s = natsOptions_LoadCATrustedCertificates(
          opts.get(), credentials.tls_ca_file.c_str());
    }
    if (s == NATS_OK && !credentials.tls_cert_file.empty()) {
      s = natsOptions_LoadCertificatesChain(opts.get(),
                                            credentials.tls_cert_file.c_str(),
                                            credentials.tls_key_file.c_str());
    }
    if (s != NATS_OK) return FromNats(s, absl::StrCat(name, ": TLS set-up"));
  }
  s = natsConnection_Connect(&client->connection_, opts.get());
  if (s != NATS_OK) {
    client->connection_ = nullptr;
    return FromNats(s, absl::StrCat(name, ": connecting"));
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = ToMillis(timeout);
  s = natsConnection_JetStream(&client->js_, client->connection_, &js_options);
  if (s != NATS_OK) {
    client->js_ = nullptr;
    return FromNats(s, absl::StrCat(name, ": JetStream context"));
  }
  return client;
}

}  // namespace syncstream::nats::internal
