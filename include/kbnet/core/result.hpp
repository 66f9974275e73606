// Result and error types for the data path, where exceptions are not used.
//
// An Error is a code (for programs to branch on) and a static reason (for a
// person to act on). The reason is always a string literal, so building an
// Error never allocates and a Result is cheap to return by value.
#pragma once

#include <cstdint>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

namespace kbnet {

enum class Errc : std::uint8_t {
    ok = 0,
    would_block,       // nothing to do now; try again later
    no_buffers,        // a frame pool or ring is empty or full
    truncated,         // input shorter than its format requires
    malformed,         // input violates its format
    bad_checksum,      // a checksum did not verify
    unsupported,       // valid, but a feature kbnet does not implement
    invalid_argument,  // a caller passed a value outside the contract
    io_error,          // the operating system reported a failure
    closed,            // the other side or the resource went away
};

// Short stable name of a code ("malformed"), for logs and counters.
std::string_view errc_name(Errc code) noexcept;

struct Error {
    Errc code = Errc::ok;
    const char* reason = "";  // static string: what happened and, where possible, the fix

    constexpr Error() = default;
    constexpr Error(Errc c, const char* why) noexcept : code(c), reason(why) {}
    friend constexpr bool operator==(const Error& a, const Error& b) noexcept { return a.code == b.code; }
};

// Result<T>: either a T or an Error. Deliberately small: no exceptions are
// thrown from value(); calling it on an error is a contract violation that
// the debug build catches with an assertion.
template <typename T>
class [[nodiscard]] Result {
  public:
    constexpr Result(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) : ok_(true) {
        ::new (&storage_.value) T(v);
    }
    constexpr Result(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true) {
        ::new (&storage_.value) T(std::move(v));
    }
    constexpr Result(Error e) noexcept : ok_(false) { storage_.error = e; }

    Result(const Result& o) : ok_(o.ok_) {
        if (ok_)
            ::new (&storage_.value) T(o.storage_.value);
        else
            storage_.error = o.storage_.error;
    }
    Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_) {
        if (ok_)
            ::new (&storage_.value) T(std::move(o.storage_.value));
        else
            storage_.error = o.storage_.error;
    }
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&&) = delete;
    ~Result() {
        if (ok_) storage_.value.~T();
    }

    [[nodiscard]] constexpr bool ok() const noexcept { return ok_; }
    constexpr explicit operator bool() const noexcept { return ok_; }

    [[nodiscard]] constexpr T& value() & noexcept { return storage_.value; }
    [[nodiscard]] constexpr const T& value() const& noexcept { return storage_.value; }
    [[nodiscard]] constexpr T&& value() && noexcept { return std::move(storage_.value); }
    constexpr T* operator->() noexcept { return &storage_.value; }
    constexpr const T* operator->() const noexcept { return &storage_.value; }
    constexpr T& operator*() & noexcept { return storage_.value; }
    constexpr const T& operator*() const& noexcept { return storage_.value; }

    [[nodiscard]] constexpr Error error() const noexcept { return ok_ ? Error{} : storage_.error; }
    [[nodiscard]] constexpr Errc code() const noexcept { return ok_ ? Errc::ok : storage_.error.code; }

  private:
    union Storage {
        Storage() noexcept {}
        ~Storage() {}
        T value;
        Error error;
    } storage_;
    bool ok_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    constexpr Result() noexcept = default;
    constexpr Result(Error e) noexcept : error_(e) {}

    [[nodiscard]] constexpr bool ok() const noexcept { return error_.code == Errc::ok; }
    constexpr explicit operator bool() const noexcept { return ok(); }
    [[nodiscard]] constexpr Error error() const noexcept { return error_; }
    [[nodiscard]] constexpr Errc code() const noexcept { return error_.code; }

  private:
    Error error_{};
};

using Status = Result<void>;

}  // namespace kbnet
