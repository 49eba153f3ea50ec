// Behaviour every IoEngine (AioContext, Uring) shares, run by
// test_libaio.cpp and test_uring.cpp against regular files.
#pragma once

#include "test_util.h"

namespace test {

template <class Engine>
void engine_round_trip_read_write()
{
    asyncdev::Loop loop;
    Engine io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(4096, 5);
    std::vector<std::byte> in(4096);
    ssize_t w = -1, r = -1;
    io.write(f.get(), out, 4096, [&](ssize_t res) { w = res; });
    io.submit();
    assert_true(run_until(loop, [&] { return w >= 0; }));
    assert_int_equal(w, 4096);
    io.read(f.get(), in, 4096, [&](ssize_t res) { r = res; });
    io.submit();
    assert_true(run_until(loop, [&] { return r >= 0; }));
    assert_int_equal(r, 4096);
    assert_true(in == out);
    // Past the end of the file: 0 bytes.
    r = -1;
    io.read(f.get(), in, 1 << 20, [&](ssize_t res) { r = res; });
    io.submit();
    assert_true(run_until(loop, [&] { return r >= 0; }));
    assert_int_equal(r, 0);
}

template <class Engine>
void engine_vectored()
{
    asyncdev::Loop loop;
    Engine io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto a = pattern(1000, 1), b = pattern(3000, 2);
    ssize_t w = -1, r = -1;
    {
        const iovec iov[2] = {{const_cast<std::byte*>(a.data()), a.size()},
                              {const_cast<std::byte*>(b.data()), b.size()}};
        io.writev(f.get(), iov, 0, [&](ssize_t res) { w = res; });
    } // the iovec array was copied: it may go now
    io.submit();
    assert_true(run_until(loop, [&] { return w >= 0; }));
    assert_int_equal(w, 4000);
    std::vector<std::byte> x(3000), y(1000);
    const iovec iov[2] = {{x.data(), x.size()}, {y.data(), y.size()}};
    io.readv(f.get(), iov, 0, [&](ssize_t res) { r = res; });
    io.submit();
    assert_true(run_until(loop, [&] { return r >= 0; }));
    assert_int_equal(r, 4000);
    std::vector<std::byte> joined(x);
    joined.insert(joined.end(), y.begin(), y.end());
    std::vector<std::byte> expect(a);
    expect.insert(expect.end(), b.begin(), b.end());
    assert_true(joined == expect);
}

// More requests than depth: the rest wait in userspace and go out as
// completions free slots; never more than depth in the kernel.
template <class Engine>
void engine_bounded_queue()
{
    asyncdev::Loop loop;
    Engine io(loop, 4);
    asyncdev::UniqueFd f = make_tmpfile();
    constexpr int n = 64;
    std::vector<std::vector<std::byte>> bufs;
    for (int i = 0; i < n; ++i)
        bufs.push_back(pattern(256, static_cast<unsigned>(i)));
    int done = 0, ok = 0;
    std::size_t max_in_flight = 0;
    for (int i = 0; i < n; ++i)
        io.write(f.get(), bufs[i], static_cast<std::uint64_t>(i) * 256, [&](ssize_t r) {
            ++done;
            ok += r == 256;
            max_in_flight = std::max(max_in_flight, io.in_flight());
        });
    assert_int_equal(io.queued(), n);
    const std::size_t now = io.submit();
    assert_true(now >= 1 && now <= 4);
    assert_true(io.in_flight() <= 4);
    assert_int_equal(io.in_flight() + io.queued() + static_cast<std::size_t>(done) >= n, 1);
    assert_true(run_until(loop, [&] { return done == n; }));
    assert_int_equal(ok, n);
    assert_true(max_in_flight <= 4);
    assert_int_equal(io.queued(), 0);
    assert_int_equal(io.in_flight(), 0);
    std::vector<std::byte> all(n * 256);
    assert_int_equal(::pread(f.get(), all.data(), all.size(), 0), n * 256);
    for (int i = 0; i < n; ++i)
        assert_memory_equal(all.data() + i * 256, bufs[i].data(), 256);
}

template <class Engine>
void engine_cancel_queued()
{
    asyncdev::Loop loop;
    Engine io(loop, 1);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(512, 7);
    std::vector<ssize_t> res(3, 1);
    std::vector<asyncdev::RequestId> ids;
    for (int i = 0; i < 3; ++i)
        ids.push_back(io.write(f.get(), out, static_cast<std::uint64_t>(i) * 512,
                               [&res, i](ssize_t r) { res[i] = r; }));
    assert_true(io.cancel(ids[0])); // still prepared
    io.submit();                    // ids[1] into the kernel, ids[2] in the backlog
    if (io.in_flight() == 1)
        assert_true(io.cancel(ids[2])); // in the userspace backlog
    assert_true(run_until(loop, [&] { return res[0] != 1 && res[1] != 1 && res[2] != 1; }));
    assert_int_equal(res[0], -ECANCELED);
    assert_int_equal(res[1], 512);
    assert_true(res[2] == -ECANCELED || res[2] == 512);
    assert_false(io.cancel(ids[1])); // finished: nothing to cancel
    assert_false(io.cancel(12345));
}

template <class Engine>
void engine_error_folded()
{
    asyncdev::Loop loop;
    Engine io(loop, 4);
    std::vector<std::byte> buf(16);
    ssize_t a = 0, b = 0;
    io.read(-1, buf, 0, [&](ssize_t r) { a = r; }); // fails at submission
    asyncdev::UniqueFd f = make_tmpfile();
    io.read(f.get(), buf, 0, [&](ssize_t r) { b = r == 0 ? 1000 : r; }); // still submitted
    io.submit();
    assert_true(run_until(loop, [&] { return a != 0 && b != 0; }));
    assert_int_equal(a, -EBADF);
    assert_int_equal(b, 1000);
}

template <class Engine>
void engine_destroy_in_flight()
{
    asyncdev::Loop loop;
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(1 << 16, 3);
    int calls = 0;
    {
        Engine io(loop, 4);
        for (int i = 0; i < 32; ++i)
            io.write(f.get(), out, static_cast<std::uint64_t>(i) << 16, [&](ssize_t) { ++calls; });
        io.submit();
        assert_true(io.in_flight() + io.queued() > 0);
    } // drains: the kernel is done with every buffer when this returns
    assert_int_equal(calls, 0);
    loop.run_once(10ms); // the engine's eventfd watch is gone
    assert_int_equal(calls, 0);
}

// Code written against IoEngine& runs on either backend.
inline ssize_t write_via_interface(asyncdev::Loop& loop, asyncdev::IoEngine& io, int fd)
{
    static const char msg[] = "through the interface";
    ssize_t res = -1;
    io.write(fd, {reinterpret_cast<const std::byte*>(msg), sizeof msg - 1}, 0,
             [&](ssize_t r) { res = r; });
    io.submit();
    run_until(loop, [&] { return res >= 0; });
    return res;
}

} // namespace test
