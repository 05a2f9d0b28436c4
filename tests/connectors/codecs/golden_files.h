// Golden-file checks shared by the codec tests in tests/connectors/codecs/
// {ehis,social,uif}: a native document and the canonical sild.v1.Envelope it
// decodes to, as protobuf JSON, side by side in <codec folder>/golden/.
//
//   ExpectDecodesTo(codec, "ehis", "transition.native.xml",
//                   "transition.canonical.json");   // native -> canonical
//   ExpectEncodesTo(codec, "ehis", "transition.canonical.json",
//                   "transition.native.xml");       // canonical -> native
//
// Canonical files are compared as messages (formatting is free); native
// files byte for byte, since Encode is deterministic. With the environment
// variable SILD_UPDATE_GOLDEN=1 the expected file is written instead, to be
// reviewed before it is committed.
#ifndef SILD_TESTS_CONNECTORS_CODECS_GOLDEN_FILES_H_
#define SILD_TESTS_CONNECTORS_CODECS_GOLDEN_FILES_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "connectors/sdk/codec.h"
#include "gateway/base/errors.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "sild/v1/exchange.pb.h"

namespace sild::connectors::testing {

inline std::string GoldenPath(const std::string& folder,
                              const std::string& name) {
  return std::string(SILD_SOURCE_DIR) + "/tests/connectors/codecs/" + folder +
         "/golden/" + name;
}

inline bool UpdatingGoldens() {
  const char* value = std::getenv("SILD_UPDATE_GOLDEN");
  return value != nullptr && std::string(value) == "1";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A file of the source tree, e.g. "docs/schemas/social-services.schema.json".
inline std::string ReadSourceFile(const std::string& relative_path) {
  return ReadFile(std::string(SILD_SOURCE_DIR) + "/" + relative_path);
}

inline std::string ReadGolden(const std::string& folder,
                              const std::string& name) {
  return ReadFile(GoldenPath(folder, name));
}

inline void WriteGolden(const std::string& folder, const std::string& name,
                        const std::string& content) {
  std::ofstream out(GoldenPath(folder, name), std::ios::binary);
  out << content;
  ASSERT_TRUE(out.good()) << "cannot write " << GoldenPath(folder, name);
}

inline std::string CanonicalJson(const sild::v1::Envelope& envelope) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  EXPECT_TRUE(
      google::protobuf::util::MessageToJsonString(envelope, &json, options)
          .ok());
  return json;
}

inline sild::v1::Envelope ParseCanonical(const std::string& json) {
  sild::v1::Envelope envelope;
  auto status = google::protobuf::util::JsonStringToMessage(json, &envelope);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return envelope;
}

inline sild::v1::Envelope LoadCanonical(const std::string& folder,
                                        const std::string& name) {
  return ParseCanonical(ReadGolden(folder, name));
}

inline void ExpectDecodesTo(const Codec& codec, const std::string& folder,
                            const std::string& native_name,
                            const std::string& canonical_name) {
  SCOPED_TRACE(native_name + " -> " + canonical_name);
  auto decoded = codec.Decode(ReadGolden(folder, native_name));
  ASSERT_TRUE(decoded.ok())
      << decoded.status() << " reason " << ErrorReason(decoded.status())
      << " field " << ErrorField(decoded.status());
  if (UpdatingGoldens()) {
    WriteGolden(folder, canonical_name, CanonicalJson(*decoded));
    return;
  }
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  EXPECT_TRUE(
      differencer.Compare(LoadCanonical(folder, canonical_name), *decoded))
      << report << "\ndecoded:\n"
      << CanonicalJson(*decoded);
}

inline void ExpectEncodesTo(const Codec& codec, const std::string& folder,
                            const std::string& canonical_name,
                            const std::string& native_name) {
  SCOPED_TRACE(canonical_name + " -> " + native_name);
  auto encoded = codec.Encode(LoadCanonical(folder, canonical_name));
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  if (UpdatingGoldens()) {
    WriteGolden(folder, native_name, *encoded);
    return;
  }
  EXPECT_EQ(*encoded, ReadGolden(folder, native_name));
}

}  // namespace sild::connectors::testing

#endif  // SILD_TESTS_CONNECTORS_CODECS_GOLDEN_FILES_H_
