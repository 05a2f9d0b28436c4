#include "connectors/transports/file/file_transport.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "connectors/sdk/registry.h"
#include "gateway/base/errors.h"
#include "gateway/base/files.h"
#include "gateway/base/thread_name.h"

namespace sild::connectors {
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kDefaultPollMs = 200;
constexpr uint64_t kDefaultMaxFileBytes = 16 * 1024 * 1024;
constexpr uint32_t kDefaultMaxBackoffMs = 30000;

std::string Extension(const sild::connectors::v1::FileTransportConfig& c) {
  return c.extension().empty() ? "msg" : c.extension();
}

bool IsSafeName(absl::string_view name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

absl::Status DirectoryHealth(const std::string& directory) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return absl::UnavailableError(absl::StrCat(directory, ": not a folder",
                                               error ? ": " : "",
                                               error ? error.message() : ""));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPermanentRefusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    case absl::StatusCode::kResourceExhausted: {
      std::string reason = ErrorReason(status);
      return reason == "INPUT_TOO_LARGE" || reason == "INPUT_TOO_DEEP";
    }
    default:
      return false;
  }
}

FileEgressTransport::FileEgressTransport(
    sild::connectors::v1::FileTransportConfig config)
    : config_(std::move(config)) {}

DeliveryResult FileEgressTransport::Deliver(const OutboundMessage& message) {
  if (!IsSafeName(message.message_id)) {
    return DeliveryResult::Permanent(absl::StrCat(
        "message id \"", message.message_id, "\" is not a safe file name"));
  }
  const std::string& directory = config_.directory();
  std::error_code error;
  if (config_.require_existing_directory()) {
    if (!fs::is_directory(directory, error)) {
      return DeliveryResult::Retryable(absl::StrCat(
          "folder ", directory, " is not available",
          error ? ": " : " (not a folder)", error ? error.message() : ""));
    }
  } else {
    fs::create_directories(directory, error);
    if (error) {
      return DeliveryResult::Retryable(
          absl::StrCat(directory, ": ", error.message()));
    }
  }
  std::string path =
      absl::StrCat(directory, "/", message.message_id, ".", Extension(config_));
  if (fs::exists(path, error)) {
    // Delivered by an earlier attempt whose result was not recorded.
    return DeliveryResult::Delivered();
  }
  absl::Status status = WriteFileAtomically(path, message.bytes);
  if (!status.ok()) return DeliveryResult::Retryable(status.ToString());
  // The rename is durable only once the folder's entry is on disk.
  if (absl::Status synced = SyncDirectory(directory); !synced.ok()) {
    return DeliveryResult::Retryable(std::string(synced.message()));
  }
  return DeliveryResult::Delivered();
}

absl::Status FileEgressTransport::health() const {
  return DirectoryHealth(config_.directory());
}

// Shared with done callbacks, which may outlive the transport.
struct FileIngressTransport::State {
  sild::connectors::v1::FileTransportConfig config;
  std::string extension;
  absl::Duration poll;
  absl::Duration max_backoff;
  InboundHandler handler;

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::set<std::string> in_flight ABSL_GUARDED_BY(mu);
  struct Retry {
    absl::Time not_before;
    absl::Duration backoff;
  };
  std::map<std::string, Retry> retries ABSL_GUARDED_BY(mu);
  absl::Status last_error ABSL_GUARDED_BY(mu);

  void Finish(const std::string& file_name, const absl::Status& status) {
    const std::string source = absl::StrCat(config.directory(), "/", file_name);
    std::error_code error;
    if (status.ok()) {
      fs::create_directories(config.directory() + "/done", error);
      fs::rename(source, absl::StrCat(config.directory(), "/done/", file_name),
                 error);
    } else if (IsPermanentRefusal(status)) {
      fs::create_directories(config.directory() + "/rejected", error);
      std::string rejected =
          absl::StrCat(config.directory(), "/rejected/", file_name);
      // The .error file first: a rejected message never lacks its reason.
      // MakeError statuses read "REASON: field: text" already.
      std::string reason = ErrorReason(status);
      std::string text(status.message());
      if (reason.empty()) reason = absl::StatusCodeToString(status.code());
      if (!absl::StartsWith(text, reason)) {
        text = absl::StrCat(reason, ": ", ErrorField(status), ": ", text);
      }
      absl::Status written =
          WriteFileAtomically(rejected + ".error", absl::StrCat(text, "\n"));
      if (written.ok()) fs::rename(source, rejected, error);
      if (!written.ok()) error = std::make_error_code(std::errc::io_error);
    }
    absl::MutexLock lock(&mu);
    in_flight.erase(file_name);
    if (error) {
      last_error = absl::UnavailableError(
          absl::StrCat(source, ": cannot move: ", error.message()));
    }
    if (status.ok() || IsPermanentRefusal(status)) {
      retries.erase(file_name);
    } else {
      Retry& retry = retries[file_name];
      retry.backoff = retry.backoff == absl::ZeroDuration()
                          ? poll
                          : std::min(retry.backoff * 2, max_backoff);
      retry.not_before = absl::Now() + retry.backoff;
    }
  }

  // One scan of the folder.
  void Scan(const std::shared_ptr<State>& self) {
    std::vector<std::string> names;
    std::error_code error;
    for (fs::directory_iterator it(config.directory(), error), end;
         !error && it != end; it.increment(error)) {
      if (!it->is_regular_file(error)) continue;
      std::string name = it->path().filename().string();
      if (!absl::EndsWith(name, "." + extension)) continue;
      if (!IsSafeName(name)) continue;
      names.push_back(name);
    }
    {
      absl::MutexLock lock(&mu);
      last_error = error ? absl::UnavailableError(absl::StrCat(
                               config.directory(), ": ", error.message()))
                         : absl::OkStatus();
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      {
        absl::MutexLock lock(&mu);
        if (stopping) return;
        if (in_flight.count(name) > 0) continue;
        auto retry = retries.find(name);
        if (retry != retries.end() && absl::Now() < retry->second.not_before) {
          continue;
        }
        in_flight.insert(name);
      }
      std::string path = absl::StrCat(config.directory(), "/", name);
      InboundMessage message;
      message.message_id = name.substr(0, name.size() - extension.size() - 1);
      message.headers["file_name"] = name;
      std::error_code size_error;
      uintmax_t size = fs::file_size(path, size_error);
      if (size_error) {  // vanished or unreadable: look again next scan
        absl::MutexLock lock(&mu);
        in_flight.erase(name);
        continue;
      }
      uint64_t max_file_bytes = config.max_file_bytes() == 0
                                    ? kDefaultMaxFileBytes
                                    : config.max_file_bytes();
      if (size > max_file_bytes) {
        Finish(name, MakeError(absl::StatusCode::kResourceExhausted,
                               "INPUT_TOO_LARGE", "",
                               absl::StrCat("file of ", size, " bytes exceeds ",
                                            max_file_bytes)));
        continue;
      }
      auto bytes = ReadFileToString(path);
      if (!bytes.ok()) {
        absl::MutexLock lock(&mu);
        in_flight.erase(name);
        continue;
      }
      message.bytes = *std::move(bytes);
      handler(message, [self, name](absl::Status status) {
        self->Finish(name, status);
      });
    }
  }
};

FileIngressTransport::FileIngressTransport(
    sild::connectors::v1::FileTransportConfig config)
    : state_(std::make_shared<State>()) {
  state_->extension = Extension(config);
  state_->poll = absl::Milliseconds(config.poll_interval_ms() == 0
                                        ? kDefaultPollMs
                                        : config.poll_interval_ms());
  state_->max_backoff = absl::Milliseconds(config.max_retry_backoff_ms() == 0
                                               ? kDefaultMaxBackoffMs
                                               : config.max_retry_backoff_ms());
  state_->config = std::move(config);
}

FileIngressTransport::~FileIngressTransport() { Stop(); }

absl::Status FileIngressTransport::Start(InboundHandler handler) {
  if (poller_.joinable()) {
    return absl::FailedPreconditionError("file ingress already started");
  }
  std::error_code error;
  fs::create_directories(state_->config.directory(), error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat(state_->config.directory(), ": ", error.message()));
  }
  state_->handler = std::move(handler);
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = false;
  }
  std::shared_ptr<State> state = state_;
  poller_ = std::thread([state] {
    NameThisThread("sild-file-poll");
    while (true) {
      state->Scan(state);
      absl::MutexLock lock(&state->mu);
      auto stopping = [&state] {
        state->mu.AssertHeld();
        return state->stopping;
      };
      if (state->mu.AwaitWithTimeout(absl::Condition(&stopping), state->poll)) {
        return;
      }
    }
  });
  return absl::OkStatus();
}

void FileIngressTransport::Stop() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  if (poller_.joinable()) poller_.join();
  // In-flight handlers finish when they call done.
  absl::MutexLock lock(&state_->mu);
  auto idle = [this] {
    state_->mu.AssertHeld();
    return state_->in_flight.empty();
  };
  state_->mu.Await(absl::Condition(&idle));
}

absl::Status FileIngressTransport::health() const {
  absl::Status status = DirectoryHealth(state_->config.directory());
  if (!status.ok()) return status;
  absl::MutexLock lock(&state_->mu);
  return state_->last_error;
}

namespace {

absl::Status CheckConfig(const sild::connectors::v1::FileTransportConfig& c) {
  if (c.directory().empty()) {
    return InvalidField("MISSING_FIELD", "directory",
                        "the file transport needs a folder");
  }
  if (!c.extension().empty() && !IsSafeName(c.extension())) {
    return InvalidField("INVALID_CONNECTOR_CONFIG", "extension",
                        "letters, digits, '-', '_' and '.' only");
  }
  return absl::OkStatus();
}

class FileEgressFactory final : public EgressTransportFactory {
 public:
  std::string name() const override { return kFileTransportName; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const override {
    return std::make_unique<sild::connectors::v1::FileTransportConfig>();
  }
  absl::StatusOr<std::unique_ptr<EgressTransport>> Create(
      const google::protobuf::Message& config) const override {
    const auto& typed =
        static_cast<const sild::connectors::v1::FileTransportConfig&>(config);
    absl::Status status = CheckConfig(typed);
    if (!status.ok()) return status;
    return std::make_unique<FileEgressTransport>(typed);
  }
};

class FileIngressFactory final : public IngressTransportFactory {
 public:
  std::string name() const override { return kFileTransportName; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig()
      const override {
    return std::make_unique<sild::connectors::v1::FileTransportConfig>();
  }
  absl::StatusOr<std::unique_ptr<IngressTransport>> Create(
      const google::protobuf::Message& config) const override {
    const auto& typed =
        static_cast<const sild::connectors::v1::FileTransportConfig&>(config);
    absl::Status status = CheckConfig(typed);
    if (!status.ok()) return status;
    return std::make_unique<FileIngressTransport>(typed);
  }
};

SILD_REGISTER_EGRESS_TRANSPORT_FACTORY(FileEgressFactory);
SILD_REGISTER_INGRESS_TRANSPORT_FACTORY(FileIngressFactory);

}  // namespace
}  // namespace sild::connectors
