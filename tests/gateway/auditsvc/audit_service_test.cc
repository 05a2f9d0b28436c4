// sild.v1.AuditService end to end over real mTLS: the gateway in this
// process with the demo federation, auditors and other agencies as clients,
// the sild-audit and sildctl binaries run as an auditor would.
#include "gateway/auditsvc/audit_service.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/audit/bundle.h"
#include "gateway/audit/verifier.h"
#include "gateway/rpc/grpc_status.h"
#include "gateway/rpc/module.h"
#include "gateway/server/server.h"
#include "gateway/store/sqlite_connection.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sild/v1/audit_service.grpc.pb.h"
#include "sild/v1/gateway_service.grpc.pb.h"
#include "tests/testing/sildctl_runner.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using sild::v1::AuditRecord;
using ::testing::HasSubstr;

constexpr char kChildA[] = "51205280105";
constexpr char kChildB[] = "61003120228";
constexpr char kSchool[] = "75001017";
constexpr char kChildProtection[] = "75001039";
constexpr char kAuditor[] = "75001069";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

class AuditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("auditsvc");
    config_ = testing::DemoGatewayConfig(dir_);
    auto server = GatewayServer::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<sild::v1::AuditService::Stub> Stub(const std::string& who) {
    return sild::v1::AuditService::NewStub(
        testing::AgencyChannel(server_->port(), who));
  }

  std::unique_ptr<grpc::ClientContext> Context(
      const std::string& professional_id = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    if (!professional_id.empty()) {
      context->AddMetadata("x-sild-professional-id", professional_id);
    }
    return context;
  }

  static std::string Reason(const grpc::ClientContext& context) {
    auto trailers = context.GetServerTrailingMetadata();
    auto it = trailers.find(kReasonMetadataKey);
    return it == trailers.end()
               ? ""
               : std::string(it->second.data(), it->second.size());
  }

  // A disclosure about `code` from `from` to `to`, appended through the
  // running gateway's store and audit log (as the exchange does).
  AuditRecord Disclose(const std::string& code, const std::string& from,
                       const std::string& to, const std::string& message_id) {
    GatewayComponents& c = server_->components();
    AuditRecord draft;
    draft.mutable_actor()->set_registry_code(from);
    draft.mutable_actor()->set_professional_id("teacher-4");
    draft.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
    draft.set_message_id(message_id);
    draft.set_message_kind(sild::v1::MESSAGE_KIND_REFERRAL);
    draft.set_subject_pseudonym(c.audit_log->Pseudonym(code));
    draft.set_purpose(sild::v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
    draft.mutable_basis()->set_rule_id("child-protection-notification");
    draft.mutable_basis()->set_citation("Child Protection Act § 27");
    draft.add_categories(sild::v1::DATA_CATEGORY_IDENTITY);
    draft.add_categories(sild::v1::DATA_CATEGORY_EDUCATION);
    draft.set_outcome(sild::v1::AUDIT_OUTCOME_ALLOW);
    draft.set_reason_code("OK");
    draft.set_counterparty(to);
    draft.set_detail("Disclosed under the child-protection rule.");
    AuditRecord sealed;
    absl::Status status = c.store->writer().Run([&](WriteTxn& txn) {
      auto r = c.audit_log->Append(txn, draft);
      if (!r.ok()) return r.status();
      sealed = *r;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return sealed;
  }

  // Every page of `request`, in order.
  std::vector<AuditRecord> AllPages(sild::v1::AuditQueryRequest request,
                                    int* pages = nullptr) {
    auto stub = Stub("auditor");
    std::vector<AuditRecord> out;
    int count = 0;
    while (true) {
      sild::v1::AuditQueryResponse response;
      auto context = Context();
      grpc::Status status = stub->Query(context.get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      ++count;
      out.insert(out.end(), response.records().begin(),
                 response.records().end());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    if (pages != nullptr) *pages = count;
    return out;
  }

  std::string WritePublicKey() {
    auto stub = sild::v1::GatewayService::NewStub(
        testing::AgencyChannel(server_->port(), "auditor"));
    sild::v1::GetGatewayInfoResponse info;
    auto context = Context();
    EXPECT_TRUE(stub->GetGatewayInfo(context.get(), {}, &info).ok());
    std::string path = dir_ + "/gateway-audit.pub.pem";
    WriteAll(path, info.audit_public_key_pem());
    return path;
  }

  // Exports over gRPC; returns the file bytes and the chunk count.
  std::string Export(const sild::v1::AuditExportRequest& request,
                     sild::v1::AuditExportInfo* info, int* chunks) {
    auto stub = Stub("auditor");
    auto context = Context();
    auto reader = stub->Export(context.get(), request);
    sild::v1::AuditExportChunk chunk;
    std::string file;
    *chunks = 0;
    while (reader->Read(&chunk)) {
      if (chunk.has_info()) *info = chunk.info();
      file += chunk.data();
      ++*chunks;
    }
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return file;
  }

  testing::ProcessResult Sildctl(const std::string& who,
                                 const std::vector<std::string>& args) {
    return testing::RunSildctl(server_->port(), who, args, absl::Seconds(60));
  }

  std::string dir_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(AuditServiceTest, AgenciesWithoutTheAuditorRoleAreRefusedAndRecorded) {
  Disclose(kChildA, kSchool, kChildProtection, "m-1");
  for (const char* who : {"school", "social-services", "case-manager"}) {
    auto stub = Stub(who);
    sild::v1::AuditQueryRequest request;
    request.set_subject_personal_code(kChildA);
    sild::v1::AuditQueryResponse response;
    auto context = Context();
    grpc::Status status = stub->Query(context.get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << who;
    EXPECT_EQ(Reason(*context), "NOT_AUDITOR") << who;
    EXPECT_EQ(response.records_size(), 0);
  }
  // Verify and Export are refused the same way.
  auto school = Stub("school");
  sild::v1::AuditVerifyResponse verified;
  auto context = Context();
  EXPECT_EQ(school->Verify(context.get(), {}, &verified).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto export_context = Context();
  auto reader = school->Export(export_context.get(), {});
  sild::v1::AuditExportChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Each refusal left a DENY record naming the agency.
  sild::v1::AuditQueryRequest denied;
  denied.set_action(sild::v1::AUDIT_ACTION_AUDIT_QUERY);
  denied.set_outcome(sild::v1::AUDIT_OUTCOME_DENY);
  std::vector<AuditRecord> records = AllPages(denied);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].reason_code(), "NOT_AUDITOR");
  EXPECT_EQ(records.back().actor().registry_code(), kSchool);
}

TEST_F(AuditServiceTest, QueryBySubjectReturnsExactlyThatPersonsRecords) {
  std::set<std::string> a_messages;
  for (int i = 0; i < 3; ++i) {
    a_messages.insert(
        Disclose(kChildA, kSchool, kChildProtection, absl::StrCat("a-", i))
            .message_id());
    Disclose(kChildB, kSchool, kChildProtection, absl::StrCat("b-", i));
  }
  Disclose(kChildB, "75001046", kChildProtection, "b-health");
  sild::v1::AuditQueryRequest request;
  request.set_subject_personal_code(kChildA);
  std::vector<AuditRecord> records = AllPages(request);
  ASSERT_EQ(records.size(), 3u);
  const std::string pseudonym =
      server_->components().audit_log->Pseudonym(kChildA);
  std::set<std::string> got;
  for (const AuditRecord& r : records) {
    EXPECT_EQ(r.subject_pseudonym(), pseudonym);
    got.insert(r.message_id());
  }
  EXPECT_EQ(got, a_messages);
  // Newest first.
  EXPECT_GT(records[0].sequence(), records[2].sequence());

  // Filters combine: B's records by the health agency only.
  sild::v1::AuditQueryRequest health;
  health.set_subject_personal_code(kChildB);
  health.set_agency_registry_code("75001046");
  std::vector<AuditRecord> b = AllPages(health);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].message_id(), "b-health");
  // The counterparty matches too.
  sild::v1::AuditQueryRequest received;
  received.set_agency_registry_code(kChildProtection);
  received.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
  EXPECT_EQ(AllPages(received).size(), 7u);
  // By message id.
  sild::v1::AuditQueryRequest by_message;
  by_message.set_message_id("a-1");
  ASSERT_EQ(AllPages(by_message).size(), 1u);

  // An invalid personal code is refused with the field named.
  auto stub = Stub("auditor");
  sild::v1::AuditQueryRequest bad;
  bad.set_subject_personal_code("51205280106");
  sild::v1::AuditQueryResponse response;
  auto context = Context();
  grpc::Status status = stub->Query(context.get(), bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("subject_personal_code"));
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("51205280106")))
      << "an error message must not echo the personal code";
}

TEST_F(AuditServiceTest, PagesFollowCursorsInBothOrdersDespiteNewAppends) {
  for (int i = 0; i < 25; ++i) {
    Disclose(kChildA, kSchool, kChildProtection, absl::StrCat("m-", i));
  }
  for (auto order : {sild::v1::AUDIT_QUERY_ORDER_NEWEST_FIRST,
                     sild::v1::AUDIT_QUERY_ORDER_OLDEST_FIRST}) {
    SCOPED_TRACE(sild::v1::AuditQueryOrder_Name(order));
    sild::v1::AuditQueryRequest request;
    request.set_subject_personal_code(kChildA);
    request.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
    request.set_page_size(10);
    request.set_order(order);
    auto stub = Stub("auditor");
    std::vector<AuditRecord> seen;
    int pages = 0;
    while (true) {
      sild::v1::AuditQueryResponse response;
      auto context = Context();
      ASSERT_TRUE(stub->Query(context.get(), request, &response).ok());
      ++pages;
      seen.insert(seen.end(), response.records().begin(),
                  response.records().end());
      if (pages == 1) {
        // Appends between pages neither shift nor repeat what follows.
        Disclose(kChildA, kSchool, kChildProtection, "late");
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    std::set<int64_t> unique;
    for (size_t i = 0; i < seen.size(); ++i) {
      unique.insert(seen[i].sequence());
      if (i > 0) {
        if (order == sild::v1::AUDIT_QUERY_ORDER_NEWEST_FIRST) {
          EXPECT_LT(seen[i].sequence(), seen[i - 1].sequence());
        } else {
          EXPECT_GT(seen[i].sequence(), seen[i - 1].sequence());
        }
      }
    }
    EXPECT_EQ(unique.size(), seen.size()) << "a record was repeated";
    if (order == sild::v1::AUDIT_QUERY_ORDER_NEWEST_FIRST) {
      // The first page began before the late record existed.
      EXPECT_EQ(seen.size(), 25u);
      EXPECT_EQ(pages, 3);
    } else {
      // Oldest first reaches the late records at the end.
      EXPECT_EQ(seen.size(), 27u);
      EXPECT_EQ(seen.back().message_id(), "late");
    }
  }

  // A token is bound to its filters.
  auto stub = Stub("auditor");
  sild::v1::AuditQueryRequest first;
  first.set_subject_personal_code(kChildA);
  first.set_page_size(5);
  sild::v1::AuditQueryResponse page;
  auto context = Context();
  ASSERT_TRUE(stub->Query(context.get(), first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  sild::v1::AuditQueryRequest other;
  other.set_subject_personal_code(kChildB);
  other.set_page_token(page.next_page_token());
  auto other_context = Context();
  grpc::Status status = stub->Query(other_context.get(), other, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(*other_context), "INVALID_PAGE_TOKEN");
}

TEST_F(AuditServiceTest, TheAuditorsOwnQueryIsRecordedBeforeTheAnswer) {
  Disclose(kChildA, kSchool, kChildProtection, "m-1");
  auto stub = Stub("auditor");
  sild::v1::AuditQueryRequest request;
  request.set_subject_personal_code(kChildA);
  sild::v1::AuditQueryResponse response;
  auto context = Context("auditor-7");
  ASSERT_TRUE(stub->Query(context.get(), request, &response).ok());
  ASSERT_EQ(response.records_size(), 1);

  // Durable by the time the answer arrived: read straight from the store.
  GatewayComponents& c = server_->components();
  std::vector<AuditRecord> stored;
  ASSERT_TRUE(c.store
                  ->Read([&](SqlConnection& sql) -> absl::Status {
                    auto r = AuditLog::ReadRecords(sql, c.audit_log->chain_id(),
                                                   1, 0);
                    if (!r.ok()) return r.status();
                    stored = *r;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(stored.size(), 2u);
  const AuditRecord& audit = stored[1];
  EXPECT_EQ(audit.action(), sild::v1::AUDIT_ACTION_AUDIT_QUERY);
  EXPECT_EQ(audit.actor().registry_code(), kAuditor);
  EXPECT_EQ(audit.actor().professional_id(), "auditor-7");
  EXPECT_EQ(audit.subject_pseudonym(), c.audit_log->Pseudonym(kChildA));
  EXPECT_EQ(audit.purpose(), sild::v1::PURPOSE_AUDIT);
  EXPECT_EQ(audit.outcome(), sild::v1::AUDIT_OUTCOME_SUCCESS);
  EXPECT_THAT(audit.detail(), HasSubstr("Query"));
  EXPECT_THAT(audit.detail(), HasSubstr("1 records"));

  // A professional id that is a personal code is pseudonymised.
  auto second = Context(kChildB);
  ASSERT_TRUE(stub->Query(second.get(), request, &response).ok());
  sild::v1::AuditQueryRequest audits;
  audits.set_action(sild::v1::AUDIT_ACTION_AUDIT_QUERY);
  std::vector<AuditRecord> records = AllPages(audits);
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records[0].actor().professional_id(),
            absl::StrCat("pseudonym:", c.audit_log->Pseudonym(kChildB)));
}

TEST_F(AuditServiceTest, TheStoreNeverHoldsTheRawPersonalCode) {
  Disclose(kChildA, kSchool, kChildProtection, "m-1");
  auto stub = Stub("auditor");
  sild::v1::AuditQueryRequest query;
  query.set_subject_personal_code(kChildA);
  sild::v1::AuditQueryResponse response;
  auto context = Context();
  ASSERT_TRUE(stub->Query(context.get(), query, &response).ok());
  sild::v1::AuditCitizenViewRequest view;
  view.set_subject_personal_code(kChildA);
  sild::v1::AuditCitizenViewResponse citizen;
  auto view_context = Context();
  ASSERT_TRUE(stub->CitizenView(view_context.get(), view, &citizen).ok());
  const std::string pseudonym =
      server_->components().audit_log->Pseudonym(kChildA);

  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    std::string path = dir_ + "/sild.db" + suffix;
    if (std::filesystem::exists(path)) bytes += ReadAll(path);
  }
  ASSERT_THAT(bytes, HasSubstr(pseudonym))
      << "the scan must see the records it looks through";
  EXPECT_THAT(bytes, ::testing::Not(HasSubstr(kChildA)));
  server_->Shutdown(absl::Seconds(1));
  EXPECT_THAT(ReadAll(dir_ + "/sild.db"), ::testing::Not(HasSubstr(kChildA)));
}

TEST_F(AuditServiceTest, ExportedBundleVerifiesWithSildAuditAndAFlipIsCaught) {
  // About 1.5 MiB of records: the bundle needs several 1 MiB messages.
  GatewayComponents& c = server_->components();
  ASSERT_TRUE(c.store->writer()
                  .Run([&](WriteTxn& txn) -> absl::Status {
                    for (int i = 0; i < 3000; ++i) {
                      AuditRecord draft;
                      draft.mutable_actor()->set_registry_code(kSchool);
                      draft.set_action(sild::v1::AUDIT_ACTION_DISCLOSURE);
                      draft.set_message_id(absl::StrCat("bulk-", i));
                      draft.set_subject_pseudonym(
                          c.audit_log->Pseudonym(i % 2 ? kChildA : kChildB));
                      draft.set_outcome(sild::v1::AUDIT_OUTCOME_ALLOW);
                      draft.set_counterparty(kChildProtection);
                      draft.set_detail(std::string(300, 'x'));
                      auto r = c.audit_log->Append(txn, draft);
                      if (!r.ok()) return r.status();
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  sild::v1::AuditExportInfo info;
  int chunks = 0;
  std::string file = Export({}, &info, &chunks);
  ASSERT_FALSE(file.empty());
  EXPECT_GT(chunks, 1);
  EXPECT_EQ(static_cast<int64_t>(file.size()), info.total_bytes());
  EXPECT_EQ(info.first_sequence(), 1);
  EXPECT_EQ(info.last_sequence(), 3000);
  EXPECT_EQ(info.records(), 3000);
  std::string bundle_path = dir_ + "/export.sildaudit";
  WriteAll(bundle_path, file);
  std::string key = WritePublicKey();

  auto verified =
      testing::RunProcess({testing::BuiltBinary("gateway/audit/sild-audit"),
                           "verify", bundle_path, "--public-key", key});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_THAT(verified.out, HasSubstr("INTACT"));

  std::string flipped = file;
  flipped[flipped.size() / 2] ^= 0x01;
  std::string flipped_path = dir_ + "/flipped.sildaudit";
  WriteAll(flipped_path, flipped);
  auto rejected =
      testing::RunProcess({testing::BuiltBinary("gateway/audit/sild-audit"),
                           "verify", flipped_path, "--public-key", key});
  EXPECT_EQ(rejected.exit_code, 1) << rejected.out << rejected.err;
  EXPECT_THAT(rejected.out, HasSubstr("NOT INTACT"));

  // A range ending before the head is extended to the next checkpoint
  // (the one the first export cut at 3000), and the export itself was
  // recorded after that checkpoint.
  sild::v1::AuditExportRequest range;
  range.set_from_sequence(100);
  range.set_to_sequence(200);
  sild::v1::AuditExportInfo range_info;
  std::string part = Export(range, &range_info, &chunks);
  EXPECT_EQ(range_info.first_sequence(), 100);
  EXPECT_EQ(range_info.last_sequence(), 3000);
  auto bundle = audit::ParseBundle(part);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(audit::Verify(*bundle).kind, audit::FailureKind::kNone);
}

TEST_F(AuditServiceTest, VerifyReportsIntactThenTheFirstTamperedRecord) {
  for (int i = 0; i < 40; ++i) {
    Disclose(kChildA, kSchool, kChildProtection, absl::StrCat("m-", i));
  }
  ASSERT_TRUE(server_->components().audit_log->CheckpointNow().ok());
  auto stub = Stub("auditor");
  sild::v1::AuditVerifyResponse response;
  auto context = Context();
  ASSERT_TRUE(stub->Verify(context.get(), {}, &response).ok());
  EXPECT_TRUE(response.intact()) << response.first_failure().message();
  EXPECT_EQ(response.records_checked(), 40);
  EXPECT_GE(response.checkpoints_checked(), 1);
  ASSERT_EQ(response.chains_size(), 1);
  EXPECT_EQ(response.chains(0).chain_id(), "sild-test");
  EXPECT_FALSE(response.key_id().empty());

  // An intruder edits record 23 in the live database.
  {
    auto db = SqliteConnection::Open(dir_ + "/sild.db", {});
    ASSERT_TRUE(db.ok());
    auto rows = (*db)->Query(
        "SELECT record FROM audit_records WHERE sequence = 23", {});
    ASSERT_TRUE(rows.ok() && rows->size() == 1);
    AuditRecord record;
    ASSERT_TRUE(record.ParseFromString((*rows)[0].Bytes(0)));
    record.set_counterparty("75001052");
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE audit_records SET record = ? WHERE "
                           "sequence = 23",
                           {SqlBlob{record.SerializeAsString()}})
                    .ok());
  }
  sild::v1::AuditVerifyResponse tampered;
  auto second = Context();
  ASSERT_TRUE(stub->Verify(second.get(), {}, &tampered).ok());
  EXPECT_FALSE(tampered.intact());
  EXPECT_EQ(tampered.first_failure().code(), "RECORD_HASH_MISMATCH");
  EXPECT_EQ(tampered.first_failure().sequence(), 23);
  EXPECT_EQ(tampered.first_failure().chain_id(), "sild-test");
  EXPECT_EQ(tampered.records_checked(), 22);

  // A range before the damage is still intact.
  sild::v1::AuditVerifyRequest range;
  range.set_chain_id("sild-test");
  range.set_from_sequence(1);
  range.set_to_sequence(22);
  sild::v1::AuditVerifyResponse early;
  auto third = Context();
  ASSERT_TRUE(stub->Verify(third.get(), range, &early).ok());
  EXPECT_TRUE(early.intact());
  EXPECT_EQ(early.records_checked(), 22);
}

TEST_F(AuditServiceTest, CitizenViewHasTheDataTrackersShape) {
  Disclose(kChildA, kSchool, kChildProtection, "m-1");
  Disclose(kChildB, kSchool, kChildProtection, "m-other");
  Disclose(kChildA, kChildProtection, "75001052", "m-2");
  auto stub = Stub("auditor");
  sild::v1::AuditCitizenViewRequest request;
  request.set_subject_personal_code(kChildA);
  sild::v1::AuditCitizenViewResponse response;
  auto context = Context();
  ASSERT_TRUE(stub->CitizenView(context.get(), request, &response).ok());
  ASSERT_EQ(response.entries_size(), 2);
  const auto& newest = response.entries(0);
  EXPECT_EQ(newest.sender().registry_code(), kChildProtection);
  EXPECT_EQ(newest.sender().name(), "Raasiku Child Protection");
  EXPECT_EQ(newest.receiver().registry_code(), "75001052");
  EXPECT_EQ(newest.receiver().name(), "Unemployment Insurance Fund");
  const auto& older = response.entries(1);
  EXPECT_EQ(older.sender().name(), "Raasiku Basic School");
  EXPECT_EQ(older.receiver().name(), "Raasiku Child Protection");
  EXPECT_EQ(older.action(), sild::v1::AUDIT_ACTION_DISCLOSURE);
  EXPECT_EQ(older.purpose(), sild::v1::PURPOSE_CHILD_PROTECTION_NOTIFICATION);
  EXPECT_EQ(older.basis().rule_id(), "child-protection-notification");
  EXPECT_EQ(older.outcome(), sild::v1::AUDIT_OUTCOME_ALLOW);
  EXPECT_EQ(older.categories_size(), 2);
  EXPECT_TRUE(older.has_time());
  EXPECT_GE(newest.time().seconds(), older.time().seconds());
}

TEST_F(AuditServiceTest, UsageCountsByAgencyActionAndOutcome) {
  Disclose(kChildA, kSchool, kChildProtection, "m-1");
  Disclose(kChildB, kSchool, kChildProtection, "m-2");
  Disclose(kChildB, kChildProtection, kSchool, "m-3");
  auto stub = Stub("auditor");
  sild::v1::AuditUsageResponse response;
  auto context = Context();
  ASSERT_TRUE(stub->Usage(context.get(), {}, &response).ok());
  EXPECT_EQ(response.total(), 3);
  ASSERT_EQ(response.counts_size(), 2);
  EXPECT_EQ(response.counts(0).agency().registry_code(), kSchool);
  EXPECT_EQ(response.counts(0).agency().name(), "Raasiku Basic School");
  EXPECT_EQ(response.counts(0).count(), 2);
  EXPECT_EQ(response.counts(1).agency().registry_code(), kChildProtection);
  EXPECT_EQ(response.counts(1).count(), 1);
  // The usage call itself is counted next time.
  auto again = Context();
  ASSERT_TRUE(stub->Usage(again.get(), {}, &response).ok());
  EXPECT_EQ(response.total(), 4);

  // A time range in the future counts nothing.
  sild::v1::AuditUsageRequest future;
  future.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  auto third = Context();
  ASSERT_TRUE(stub->Usage(third.get(), future, &response).ok());
  EXPECT_EQ(response.total(), 0);
}

TEST_F(AuditServiceTest, SildctlAuditQueryVerifyAndExport) {
  Disclose(kChildA, kSchool, kChildProtection, "m-1");
  Disclose(kChildB, kSchool, kChildProtection, "m-2");

  auto query = Sildctl("auditor", {"audit", "query", "--subject", kChildA,
                                   "--action", "disclosure", "--json"});
  ASSERT_EQ(query.exit_code, 0) << query.err;
  auto json = nlohmann::json::parse(query.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << query.out;
  ASSERT_EQ(json["records"].size(), 1u);
  EXPECT_EQ(json["records"][0]["message_id"], "m-1");

  auto table = Sildctl("auditor", {"audit", "query", "--all", "--oldest-first",
                                   "--since", "2020-01-01"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("disclosure"));
  EXPECT_THAT(table.out, HasSubstr("m-2"));
  EXPECT_THAT(table.out, ::testing::Not(HasSubstr(kChildA)));

  auto refused = Sildctl("school", {"audit", "query"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("NOT_AUDITOR"));

  auto usage = Sildctl("auditor", {"audit", "query", "--action", "nonsense"});
  EXPECT_EQ(usage.exit_code, 2);

  auto verify = Sildctl("auditor", {"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("INTACT"));

  std::string bundle = dir_ + "/sildctl.sildaudit";
  auto exported = Sildctl("auditor", {"audit", "export", "--out", bundle});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.err, HasSubstr("receiving"));
  EXPECT_THAT(exported.out, HasSubstr("wrote"));
  auto offline =
      testing::RunProcess({testing::BuiltBinary("gateway/audit/sild-audit"),
                           "verify", bundle, "--public-key", WritePublicKey()});
  EXPECT_EQ(offline.exit_code, 0) << offline.out << offline.err;

  // The export is held: verifying against it passes now ...
  auto held = Sildctl("auditor", {"audit", "verify", "--held", bundle});
  EXPECT_EQ(held.exit_code, 0) << held.out << held.err;

  auto citizen = Sildctl("auditor", {"audit", "citizen", "--subject", kChildA});
  ASSERT_EQ(citizen.exit_code, 0) << citizen.err;
  EXPECT_THAT(citizen.out, HasSubstr("Raasiku Basic School"));

  // ... and a damaged store fails verify with exit 1 and the first failure.
  {
    auto db = SqliteConnection::Open(dir_ + "/sild.db", {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        (*db)->Exec("DELETE FROM audit_records WHERE sequence = 2", {}).ok());
  }
  auto broken = Sildctl("auditor", {"audit", "verify"});
  EXPECT_EQ(broken.exit_code, 1) << broken.out;
  EXPECT_THAT(broken.out, HasSubstr("NOT INTACT: SEQUENCE_GAP at sequence 2"));
}

}  // namespace
}  // namespace sild
