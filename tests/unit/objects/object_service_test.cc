// Unit tests of ObjectService through Handle with a fake responder: key-to-file safety, the
// notification callback (which events, which functions, the record's fields), request claiming,
// and crash leftovers being collected at Open.
#include "haneul/objects/object_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "haneul/common/ids.h"

namespace haneul::objects {
namespace {

namespace fs = std::filesystem;

class FakeResponder : public Responder {
 public:
  void Respond(HttpResponse response) override {
    if (done_) return;
    done_ = true;
    response_ = std::move(response);
  }
  bool responded() const override { return done_; }
  HttpResponse response_;

 private:
  bool done_ = false;
};

class ObjectServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("objects-test-" + RandomHex(12));
    directory_ = (root_ / "objects").string();
    Reopen();
  }
  void TearDown() override {
    service_.reset();
    fs::remove_all(root_);
  }
  void Reopen() {
    service_.reset();
    ObjectOptions options;
    options.sync = false;
    options.notify = [this](const std::string& arn, std::string event) {
      events_.emplace_back(arn, nlohmann::json::parse(event));
    };
    options.function_exists = [](const std::string& arn) { return arn.ends_with(":f"); };
    auto opened = ObjectService::Open(directory_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    service_ = std::move(*opened);
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = method;
    request.target = target;
    auto question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) request.query = target.substr(question + 1);
    request.body = body;
    request.remote_address = "127.0.0.1:5555";
    request.headers.Set("Authorization",
                        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
                        "SignedHeaders=host, Signature=abc");
    for (auto& [name, value] : headers) request.headers.Set(name, value);
    auto responder = std::make_shared<FakeResponder>();
    EXPECT_TRUE(service_->Handle(request, responder));
    EXPECT_TRUE(responder->responded());
    return responder->response_;
  }

  fs::path root_;
  std::string directory_;
  std::unique_ptr<ObjectService> service_;
  std::vector<std::pair<std::string, nlohmann::json>> events_;
};

TEST_F(ObjectServiceTest, HostileKeysStayInsideTheDirectory) {
  ASSERT_EQ(Call("PUT", "/bucket").status, 200);
  for (const char* key : {"..%2F..%2Fescape", "../../escape2", "%2E%2E/%2E%2E/x", "a/../../b",
                          "%00nul", "%F0%9F%98%80"}) {
    auto response = Call("PUT", std::string("/bucket/") + key, "data");
    EXPECT_EQ(response.status, 200) << key << response.body;
  }
  EXPECT_FALSE(fs::exists(root_ / "escape"));
  EXPECT_FALSE(fs::exists(root_ / "escape2"));
  // Every file is a blob with a random hex name under blobs/, or the metadata store.
  size_t blobs = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (!entry.is_regular_file()) continue;
    auto relative = fs::relative(entry.path(), directory_).string();
    if (relative.starts_with("meta/")) continue;
    ASSERT_TRUE(relative.starts_with("blobs/")) << relative;
    auto name = entry.path().filename().string();
    EXPECT_EQ(name.size(), 32u);
    EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos) << name;
    ++blobs;
  }
  EXPECT_EQ(blobs, 6u);
  EXPECT_EQ(Call("GET", "/bucket/../../escape2").body, "data");
}

TEST_F(ObjectServiceTest, NotificationsReachTheCallback) {
  ASSERT_EQ(Call("PUT", "/photos").status, 200);
  const std::string arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  std::string config =
      "<NotificationConfiguration><CloudFunctionConfiguration><Id>resize</Id><CloudFunction>" +
      arn +
      "</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix"
      "</Name><Value>input/</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>"
      "<CloudFunctionConfiguration><Id>gone</Id><CloudFunction>" +
      arn +
      "</CloudFunction><Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration>"
      "</NotificationConfiguration>";
  ASSERT_EQ(Call("PUT", "/photos?notification", config).status, 200);

  // Created under input/: one event. Under output/ (where the function writes): none.
  Call("PUT", "/photos/input/my%20photo.jpg", "jpegdata");
  Call("PUT", "/photos/output/my%20photo.jpg", "small");
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].first, arn);
  const auto& record = events_[0].second["Records"][0];
  EXPECT_EQ(record["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(record["eventSource"], "aws:s3");
  EXPECT_EQ(record["awsRegion"], "us-east-1");
  EXPECT_EQ(record["requestParameters"]["sourceIPAddress"], "127.0.0.1");
  EXPECT_EQ(record["s3"]["configurationId"], "resize");
  EXPECT_EQ(record["s3"]["bucket"]["name"], "photos");
  EXPECT_EQ(record["s3"]["object"]["key"], "input/my+photo.jpg");
  EXPECT_EQ(record["s3"]["object"]["size"], 8);
  EXPECT_EQ(record["s3"]["object"]["eTag"].get<std::string>().size(), 32u);

  // Copy into input/, then delete: ObjectCreated:Copy and two ObjectRemoved:Delete.
  Call("PUT", "/photos/input/copy.jpg", "",
       {{"x-amz-copy-source", "/photos/output/my%20photo.jpg"}});
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[1].second["Records"][0]["eventName"], "ObjectCreated:Copy");
  Call("DELETE", "/photos/input/copy.jpg");
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[2].second["Records"][0]["eventName"], "ObjectRemoved:Delete");
  EXPECT_EQ(events_[2].second["Records"][0]["s3"]["configurationId"], "gone");
  EXPECT_FALSE(events_[2].second["Records"][0]["s3"]["object"].contains("size"));
  // Deleting a missing key notifies nothing.
  Call("DELETE", "/photos/input/copy.jpg");
  EXPECT_EQ(events_.size(), 3u);
  // Sequencers grow.
  EXPECT_LT(events_[0].second["Records"][0]["s3"]["object"]["sequencer"].get<std::string>(),
            events_[2].second["Records"][0]["s3"]["object"]["sequencer"].get<std::string>());

  // The configuration survives a reopen.
  Reopen();
  Call("PUT", "/photos/input/again.jpg", "x");
  EXPECT_EQ(events_.size(), 4u);
}

TEST_F(ObjectServiceTest, MissingFunctionIsRejected) {
  ASSERT_EQ(Call("PUT", "/photos").status, 200);
  auto response = Call("PUT", "/photos?notification",
                       "<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>"
                       "arn:aws:lambda:us-east-1:000000000000:function:missing</CloudFunction>"
                       "<Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration>"
                       "</NotificationConfiguration>");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body.find("<Code>InvalidArgument</Code><Message>Unable to validate the "
                               "following destination configurations</Message>"),
            std::string::npos)
      << response.body;
}

TEST_F(ObjectServiceTest, ClaimsOnlyS3AndUnsignedRequests) {
  HttpRequest lambda;
  lambda.method = "GET";
  lambda.path = lambda.target = "/2015-03-31/functions";
  lambda.headers.Set("Authorization",
                     "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, "
                     "SignedHeaders=host, Signature=abc");
  auto responder = std::make_shared<FakeResponder>();
  EXPECT_FALSE(service_->Handle(lambda, responder));
  EXPECT_FALSE(responder->responded());
  HttpRequest plain;
  plain.method = "GET";
  plain.path = plain.target = "/";
  EXPECT_TRUE(service_->Handle(plain, responder));
  EXPECT_EQ(responder->response_.status, 200);
  EXPECT_FALSE(responder->response_.headers.Get("x-amz-request-id").empty());
}

TEST_F(ObjectServiceTest, NonUtf8HeaderValuesAreStoredSafely) {
  ASSERT_EQ(Call("PUT", "/bkt1").status, 200);
  auto put =
      Call("PUT", "/bkt1/k", "v", {{"x-amz-meta-raw", "\xff\xfe"}, {"Content-Type", "\x80"}});
  EXPECT_EQ(put.status, 200) << put.body;
  auto got = Call("GET", "/bkt1/k");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "v");
}

TEST_F(ObjectServiceTest, CrashLeftoversAreCollected) {
  ASSERT_EQ(Call("PUT", "/bkt1").status, 200);
  ASSERT_EQ(Call("PUT", "/bkt1/k", "kept").status, 200);
  // A temp file and an unreferenced blob, as a crash between write and commit leaves them.
  std::ofstream(directory_ + "/tmp/" + std::string(32, 'a')) << "half";
  fs::create_directories(directory_ + "/blobs/bb");
  std::ofstream(directory_ + "/blobs/bb/" + std::string(32, 'b')) << "orphan";
  Reopen();
  EXPECT_TRUE(fs::is_empty(directory_ + "/tmp"));
  EXPECT_FALSE(fs::exists(directory_ + "/blobs/bb/" + std::string(32, 'b')));
  EXPECT_EQ(Call("GET", "/bkt1/k").body, "kept");
}

}  // namespace
}  // namespace haneul::objects
