// SPDX-License-Identifier: MIT
// Error conventions of libasyncdev.
//
// Setup and control calls throw std::system_error whose code() is the errno
// (std::system_category) and whose what() names the failing call, e.g.
//   "ioctl(ASYNCDEV_IOC_SET_CONFIG): Invalid argument".
// Where failure is an expected outcome (opening a node, device ioctls) an
// overload taking std::error_code& is provided; it never throws.
//
// I/O requests never throw from the kernel's side: their result is one
// ssize_t, >= 0 the bytes transferred, < 0 the negated errno (the io_uring
// and libaio convention). Submission errors are delivered the same way.
#pragma once

#include <string>
#include <system_error>
#include <sys/types.h>

namespace asyncdev {

/// Throws std::system_error(err, std::system_category(), what).
[[noreturn]] void throw_system_error(int err, const std::string& what);

/// throw_system_error(errno, what).
[[noreturn]] void throw_errno(const std::string& what);

/// The error of an I/O result: empty for res >= 0, else errno -res.
inline std::error_code result_error(ssize_t res) noexcept
{
    return res < 0 ? std::error_code(static_cast<int>(-res), std::system_category())
                   : std::error_code();
}

} // namespace asyncdev
