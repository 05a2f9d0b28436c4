#include "gateway/exchange/transport_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/common/files.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace sild::exchange {
namespace {

// Message ids are UUIDs minted by the gateway; anything else is refused so a
// file name can never leave the folder.
bool SafeFileName(absl::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string Serialize(const sild::v1::Envelope& envelope) {
  // Deterministic, so a second attempt writes the same bytes.
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  envelope.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

// The rename is durable only once the folder's entry is on disk.
bool SyncFolder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string FileTransport::PathFor(const std::string& folder,
                                   const std::string& message_id) {
  return absl::StrCat(folder, "/", message_id, ".binpb");
}

DeliveryResult FileTransport::Deliver(const OutboxRow& row,
                                      const Agency& recipient) {
  const std::string& folder = recipient.config.transport_target();
  if (folder.empty()) {
    return DeliveryResult::Permanent(
        absl::StrCat("agency ", recipient.ref.registry_code(),
                     " uses the file transport but has no transport_target"));
  }
  if (!SafeFileName(row.message_id)) {
    return DeliveryResult::Permanent("message id is not a safe file name");
  }
  struct stat info;
  if (::stat(folder.c_str(), &info) != 0) {
    return DeliveryResult::Retryable(absl::StrCat(
        "folder ", folder, " is not available: ", std::strerror(errno)));
  }
  if (!S_ISDIR(info.st_mode)) {
    return DeliveryResult::Retryable(
        absl::StrCat("folder ", folder, " is not a directory"));
  }
  std::string path = PathFor(folder, row.message_id);
  if (::stat(path.c_str(), &info) == 0) {
    // Delivered by an earlier attempt whose result was not recorded.
    return DeliveryResult::Delivered();
  }
  absl::Status written = WriteFileAtomically(path, Serialize(row.envelope));
  if (!written.ok()) {
    return DeliveryResult::Retryable(std::string(written.message()));
  }
  if (!SyncFolder(folder)) {
    return DeliveryResult::Retryable(absl::StrCat(
        "folder ", folder, ": fsync failed: ", std::strerror(errno)));
  }
  return DeliveryResult::Delivered();
}

}  // namespace sild::exchange
