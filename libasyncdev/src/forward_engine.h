// SPDX-License-Identifier: MIT
// Private: the IoEngine members of a pimpl'd backend, forwarded to Impl.
#pragma once

#define ASYNCDEV_FORWARD_ENGINE(Class)                                                       \
    RequestId Class::read(int fd, std::span<std::byte> buf, std::uint64_t off, Completion cb) \
    {                                                                                        \
        return impl_->prepare(detail::Request::Op::read, fd, buf.data(), buf.size(), {}, off, \
                              std::move(cb));                                                \
    }                                                                                        \
    RequestId Class::write(int fd, std::span<const std::byte> buf, std::uint64_t off,        \
                           Completion cb)                                                    \
    {                                                                                        \
        return impl_->prepare(detail::Request::Op::write, fd,                                \
                              const_cast<std::byte*>(buf.data()), buf.size(), {}, off,       \
                              std::move(cb));                                                \
    }                                                                                        \
    std::size_t Class::submit() { return impl_->submit(); }                                  \
    bool Class::cancel(RequestId id) { return impl_->cancel(id); }                           \
    void Class::abandon(RequestId id) noexcept { impl_->abandon(id); }                       \
    std::size_t Class::in_flight() const noexcept { return impl_->in_flight(); }             \
    std::size_t Class::queued() const noexcept { return impl_->queued(); }

#define ASYNCDEV_FORWARD_VECTORED(Class)                                                     \
    RequestId Class::readv(int fd, std::span<const iovec> iov, std::uint64_t off,            \
                           Completion cb)                                                    \
    {                                                                                        \
        return impl_->prepare(detail::Request::Op::readv, fd, nullptr, 0, iov, off,           \
                              std::move(cb));                                                \
    }                                                                                        \
    RequestId Class::writev(int fd, std::span<const iovec> iov, std::uint64_t off,           \
                            Completion cb)                                                   \
    {                                                                                        \
        return impl_->prepare(detail::Request::Op::writev, fd, nullptr, 0, iov, off,          \
                              std::move(cb));                                                \
    }                                                                                        \
    std::size_t Class::depth() const noexcept { return impl_->depth(); }
