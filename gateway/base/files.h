// Small file helpers returning absl::Status instead of throwing or failing
// silently.
#ifndef SILD_GATEWAY_BASE_FILES_H_
#define SILD_GATEWAY_BASE_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sild {

// The whole file as bytes. NOT_FOUND if it does not exist, PERMISSION_DENIED
// or INTERNAL with the OS error otherwise.
absl::StatusOr<std::string> ReadFileToString(absl::string_view path);

// Writes `data` to `path` atomically: a temporary file in the same folder is
// written, fsynced and renamed over `path`, so a crash leaves the old or the
// new content, never a torn file.
absl::Status WriteFileAtomically(absl::string_view path,
                                 absl::string_view data);

// fsyncs the folder `path`, so a rename into it survives a crash.
// UNAVAILABLE with the OS error when it cannot be opened or synced.
absl::Status SyncDirectory(absl::string_view path);

// `path` if absolute, else `base_dir`/`path`.
std::string ResolvePath(absl::string_view base_dir, absl::string_view path);

}  // namespace sild

#endif  // SILD_GATEWAY_BASE_FILES_H_
