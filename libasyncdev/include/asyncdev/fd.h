// SPDX-License-Identifier: MIT
// asyncdev::UniqueFd: RAII owner of one file descriptor.
#pragma once

#include <utility>

namespace asyncdev {

/// Owns a file descriptor and closes it on destruction (like unique_ptr).
/// -1 means empty. Move-only.
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    /// Takes ownership of fd (which may be -1).
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept
    {
        reset(o.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Gives up ownership without closing; returns the descriptor.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the owned descriptor (errors from close are ignored) and owns fd.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

} // namespace asyncdev
