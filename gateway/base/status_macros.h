// Status propagation macros. Abseil 20220623 ships neither absl/log nor
// RETURN_IF_ERROR, so the project defines the two it needs once, here.
//
//   absl::StatusOr<Config> Load(absl::string_view path) {
//     SILD_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//     SILD_RETURN_IF_ERROR(Validate(text));
//     ...
//   }
#ifndef SILD_GATEWAY_BASE_STATUS_MACROS_H_
#define SILD_GATEWAY_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SILD_STATUS_CONCAT_INNER_(a, b) a##b
#define SILD_STATUS_CONCAT_(a, b) SILD_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define SILD_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status sild_status_ = (expr);        \
    if (!sild_status_.ok()) return sild_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (a declaration or an lvalue).
#define SILD_ASSIGN_OR_RETURN(lhs, rexpr)                                    \
  SILD_ASSIGN_OR_RETURN_IMPL_(SILD_STATUS_CONCAT_(sild_statusor_, __LINE__), \
                              lhs, rexpr)

#define SILD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // SILD_GATEWAY_BASE_STATUS_MACROS_H_
