// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/fd.h>

#include <cerrno>

#include <unistd.h>

namespace asyncdev {

void throw_system_error(int err, const std::string& what)
{
    throw std::system_error(err, std::system_category(), what);
}

void throw_errno(const std::string& what)
{
    throw_system_error(errno, what);
}

void UniqueFd::reset(int fd) noexcept
{
    if (fd_ >= 0 && fd_ != fd)
        ::close(fd_); // Linux: the fd is released even if close fails
    fd_ = fd;
}

} // namespace asyncdev
