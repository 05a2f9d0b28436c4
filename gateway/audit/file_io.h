// Whole-file reads and atomic writes for key and bundle files.
//
// Thread safety: free functions, no shared state. Errors: NotFound when a
// file cannot be opened for reading, Unavailable for I/O failures during a
// read or write; messages name the path.
#ifndef SILD_GATEWAY_AUDIT_FILE_IO_H_
#define SILD_GATEWAY_AUDIT_FILE_IO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sild::audit {

absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// Writes `bytes` to `path` through a temporary file in the same folder that
// is flushed and renamed over `path`, so a reader never sees half a file.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes);

}  // namespace sild::audit

#endif  // SILD_GATEWAY_AUDIT_FILE_IO_H_
