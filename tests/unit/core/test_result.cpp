// Result<T> and Status: value or error, with a code to branch on and a
// reason for people.
#include "kbnet/core/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

namespace kbnet {
namespace {

Result<int> parse_digit(char c) {
    if (c < '0' || c > '9') return Error{Errc::malformed, "not a decimal digit"};
    return c - '0';
}

TEST(Result, holds_a_value_on_success) {
    Result<int> r = parse_digit('7');
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(static_cast<bool>(r));
    EXPECT_EQ(r.value(), 7);
    EXPECT_EQ(*r, 7);
    EXPECT_EQ(r.code(), Errc::ok);
    EXPECT_EQ(r.error().code, Errc::ok);
}

TEST(Result, holds_code_and_reason_on_failure) {
    Result<int> r = parse_digit('x');
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE(static_cast<bool>(r));
    EXPECT_EQ(r.code(), Errc::malformed);
    EXPECT_EQ(std::string_view(r.error().reason), "not a decimal digit");
}

TEST(Result, errors_compare_by_code_only) {
    EXPECT_EQ((Error{Errc::truncated, "a"}), (Error{Errc::truncated, "b"}));
    EXPECT_NE((Error{Errc::truncated, "a"}), (Error{Errc::malformed, "a"}));
}

TEST(Result, copies_and_moves_a_non_trivial_value) {
    // A string longer than the small-string buffer: a missed destructor or a
    // double one shows up under AddressSanitizer.
    const std::string long_text(100, 'k');
    Result<std::string> a(long_text);
    Result<std::string> b(a);
    EXPECT_EQ(b.value(), long_text);
    Result<std::string> c(std::move(a));
    EXPECT_EQ(c.value(), long_text);
    std::string taken = std::move(c).value();
    EXPECT_EQ(taken, long_text);
    EXPECT_EQ(b->size(), 100u);

    Result<std::string> err(Error{Errc::closed, "peer went away"});
    Result<std::string> err_copy(err);
    EXPECT_EQ(err_copy.code(), Errc::closed);
}

TEST(Result, holds_move_only_values) {
    Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
    ASSERT_TRUE(r.ok());
    std::unique_ptr<int> p = std::move(r).value();
    EXPECT_EQ(*p, 5);
}

TEST(Status, default_is_ok_and_error_is_not) {
    Status ok;
    EXPECT_TRUE(ok.ok());
    EXPECT_EQ(ok.code(), Errc::ok);
    Status bad = Error{Errc::io_error, "write failed"};
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), Errc::io_error);
    EXPECT_EQ(std::string_view(bad.error().reason), "write failed");
}

TEST(Errc, every_code_has_a_distinct_stable_name) {
    EXPECT_EQ(errc_name(Errc::ok), "ok");
    EXPECT_EQ(errc_name(Errc::would_block), "would_block");
    EXPECT_EQ(errc_name(Errc::no_buffers), "no_buffers");
    EXPECT_EQ(errc_name(Errc::truncated), "truncated");
    EXPECT_EQ(errc_name(Errc::malformed), "malformed");
    EXPECT_EQ(errc_name(Errc::bad_checksum), "bad_checksum");
    EXPECT_EQ(errc_name(Errc::unsupported), "unsupported");
    EXPECT_EQ(errc_name(Errc::invalid_argument), "invalid_argument");
    EXPECT_EQ(errc_name(Errc::io_error), "io_error");
    EXPECT_EQ(errc_name(Errc::closed), "closed");
    EXPECT_EQ(errc_name(static_cast<Errc>(200)), "unknown");
}

}  // namespace
}  // namespace kbnet
