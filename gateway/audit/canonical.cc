#include "gateway/audit/canonical.h"

#include <cstring>

namespace sild::audit {
namespace {

using sild::v1::AuditCheckpoint;
using sild::v1::AuditRecord;

// Appends the elements of one canonical encoding to a caller's buffer. The
// buffer is reused across records, so appending never allocates once it has
// grown to the largest record.
class ElementWriter {
 public:
  explicit ElementWriter(std::string& out) : out_(out) {}

  void Int64(uint32_t field, int64_t value) {
    if (value == 0) return;
    Header(field, CanonicalType::kInt64, 8);
    PutBigEndian(static_cast<uint64_t>(value), 8);
  }

  void Int32(uint32_t field, int32_t value) {
    if (value == 0) return;
    Header(field, CanonicalType::kInt32, 4);
    PutBigEndian(static_cast<uint32_t>(value), 4);
  }

  void String(uint32_t field, absl::string_view value) {
    if (value.empty()) return;
    Header(field, CanonicalType::kString, value.size());
    out_.append(value.data(), value.size());
  }

  // Unlike String, written even when empty: oneof members and field 0.
  void PresentString(uint32_t field, absl::string_view value) {
    Header(field, CanonicalType::kString, value.size());
    out_.append(value.data(), value.size());
  }

  void Bytes(uint32_t field, absl::string_view value) {
    if (value.empty()) return;
    Header(field, CanonicalType::kBytes, value.size());
    out_.append(value.data(), value.size());
  }

  // Opens a nested message or list; returns the offset to pass to Close.
  size_t Open(uint32_t field, CanonicalType type) {
    Header(field, type, 0);
    return out_.size();
  }

  // Writes the nested length now that the nested elements are known.
  void Close(size_t start) {
    const uint64_t length = out_.size() - start;
    for (int i = 0; i < 4; ++i) {
      out_[start - 1 - i] = static_cast<char>((length >> (8 * i)) & 0xff);
    }
  }

 private:
  void Header(uint32_t field, CanonicalType type, size_t length) {
    PutBigEndian(field, 4);
    out_.push_back(static_cast<char>(type));
    PutBigEndian(static_cast<uint32_t>(length), 4);
  }

  void PutBigEndian(uint64_t value, int size) {
    char bytes[8];
    for (int i = 0; i < size; ++i) {
      bytes[i] = static_cast<char>((value >> (8 * (size - 1 - i))) & 0xff);
    }
    out_.append(bytes, size);
  }

  std::string& out_;
};

void WriteTimestamp(ElementWriter& w, uint32_t field,
                    const google::protobuf::Timestamp& time) {
  const size_t start = w.Open(field, CanonicalType::kMessage);
  w.Int64(1, time.seconds());
  w.Int32(2, time.nanos());
  w.Close(start);
}

bool HasOwnUnknownFields(const google::protobuf::Message& message) {
  return !message.GetReflection()->GetUnknownFields(message).empty();
}

}  // namespace

void AppendCanonicalRecord(const AuditRecord& record, std::string& out) {
  ElementWriter w(out);
  w.PresentString(0, kRecordFormat);
  w.Int64(1, record.sequence());
  if (record.has_time()) WriteTimestamp(w, 2, record.time());
  w.String(3, record.chain_id());
  if (record.has_actor()) {
    const size_t start = w.Open(4, CanonicalType::kMessage);
    w.String(1, record.actor().registry_code());
    w.String(2, record.actor().professional_id());
    w.Close(start);
  }
  w.Int32(5, record.action());
  w.String(6, record.message_id());
  w.Int32(7, record.message_kind());
  w.String(8, record.subject_pseudonym());
  w.Int32(9, record.purpose());
  if (record.has_basis()) {
    const sild::v1::LegalBasis& basis = record.basis();
    const size_t start = w.Open(10, CanonicalType::kMessage);
    if (basis.has_consent()) {
      const size_t consent = w.Open(1, CanonicalType::kMessage);
      w.String(1, basis.consent().consent_id());
      w.Int64(2, basis.consent().version());
      w.Close(consent);
    }
    if (basis.has_rule_id()) w.PresentString(2, basis.rule_id());
    w.String(3, basis.citation());
    w.Close(start);
  }
  if (record.categories_size() > 0) {
    const size_t start = w.Open(11, CanonicalType::kList);
    for (int i = 0; i < record.categories_size(); ++i) {
      // Written even when 0: a list item's position is its identity.
      const int32_t value = record.categories(i);
      const size_t item =
          w.Open(static_cast<uint32_t>(i), CanonicalType::kInt32);
      out.push_back(static_cast<char>((value >> 24) & 0xff));
      out.push_back(static_cast<char>((value >> 16) & 0xff));
      out.push_back(static_cast<char>((value >> 8) & 0xff));
      out.push_back(static_cast<char>(value & 0xff));
      w.Close(item);
    }
    w.Close(start);
  }
  w.Int32(12, record.outcome());
  w.String(13, record.reason_code());
  w.String(14, record.counterparty());
  w.Bytes(15, record.previous_hash());
  // 16 is record_hash: the output of the hash, never its input.
  w.String(17, record.detail());
}

std::string CanonicalRecord(const AuditRecord& record) {
  std::string out;
  AppendCanonicalRecord(record, out);
  return out;
}

void AppendCanonicalCheckpoint(const AuditCheckpoint& checkpoint,
                               std::string& out) {
  ElementWriter w(out);
  w.PresentString(0, kCheckpointFormat);
  w.String(1, checkpoint.chain_id());
  w.Int64(2, checkpoint.sequence());
  w.Bytes(3, checkpoint.head_hash());
  if (checkpoint.has_time()) WriteTimestamp(w, 4, checkpoint.time());
  w.Bytes(5, checkpoint.previous_checkpoint_hash());
  // 6 (signature) and 7 (key_id) are not signed: the signature cannot sign
  // itself, and the key id only names the key that the signature proves.
}

std::string CanonicalCheckpoint(const AuditCheckpoint& checkpoint) {
  std::string out;
  AppendCanonicalCheckpoint(checkpoint, out);
  return out;
}

bool HasUnknownFields(const AuditRecord& record) {
  if (HasOwnUnknownFields(record)) return true;
  if (record.has_time() && HasOwnUnknownFields(record.time())) {
    return true;
  }
  if (record.has_actor() && HasOwnUnknownFields(record.actor())) {
    return true;
  }
  if (record.has_basis()) {
    if (HasOwnUnknownFields(record.basis())) return true;
    if (record.basis().has_consent() &&
        HasOwnUnknownFields(record.basis().consent())) {
      return true;
    }
  }
  return false;
}

bool HasUnknownFields(const AuditCheckpoint& checkpoint) {
  return HasOwnUnknownFields(checkpoint) ||
         (checkpoint.has_time() && HasOwnUnknownFields(checkpoint.time()));
}

bool HasUnknownFields(const sild::v1::AuditBundle& bundle) {
  return HasOwnUnknownFields(bundle) ||
         (bundle.has_exported_time() &&
          HasOwnUnknownFields(bundle.exported_time()));
}

}  // namespace sild::audit
