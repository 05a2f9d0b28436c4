#include "gateway/base/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace sild {

absl::StatusOr<std::string> ReadFileToString(absl::string_view path) {
  std::string p(path);
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string reason = std::strerror(err);
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(p, ": no such file"));
    }
    if (err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(p, ": ", reason));
    }
    return absl::InternalError(absl::StrCat(p, ": ", reason));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(p, ": read failed"));
  return out.str();
}

absl::Status WriteFileAtomically(absl::string_view path,
                                 absl::string_view data) {
  std::string target(path);
  std::string tmp = absl::StrCat(target, ".tmp.", getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat(tmp, ": cannot create: ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(
          absl::StrCat(tmp, ": write failed: ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(tmp, ": fsync failed"));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat(target, ": rename failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(absl::string_view path) {
  std::string folder(path);
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("folder ", folder, ": ", std::strerror(errno)));
  }
  int synced = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (synced != 0) {
    return absl::UnavailableError(absl::StrCat(
        "folder ", folder, ": fsync failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

std::string ResolvePath(absl::string_view base_dir, absl::string_view path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) {
    return std::string(path);
  }
  return (std::filesystem::path(std::string(base_dir)) / std::string(path))
      .lexically_normal()
      .string();
}

}  // namespace sild
