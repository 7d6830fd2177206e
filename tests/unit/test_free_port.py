"""A port from free_port stays its server's: nothing else is handed it before the server binds it
(a function that lost its port to a stranger once had its queued work answered 401 by that
stranger), yet the server itself binds it as usual."""

from __future__ import annotations

import errno
import socket

import pytest

from infra.local.processes import free_port, release_port


def plain_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_reserved_port_is_refused_to_anyone_else_and_never_handed_out_by_the_kernel() -> None:
    port = free_port()
    try:
        with plain_socket() as stranger, pytest.raises(OSError) as refused:
            stranger.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
        handed_out = set()
        for _ in range(3000):
            with plain_socket() as other:
                other.bind(("127.0.0.1", 0))
                handed_out.add(other.getsockname()[1])
        assert port not in handed_out
    finally:
        release_port(port)


def test_its_server_binds_and_serves_it() -> None:
    port = free_port()
    try:
        with plain_socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn, the JVM, Node do
            server.bind(("127.0.0.1", port))
            server.listen()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                accepted, _ = server.accept()
                accepted.close()
    finally:
        release_port(port)


def test_a_released_port_is_anyones_again() -> None:
    port = free_port()
    release_port(port)
    with plain_socket() as later:
        later.bind(("127.0.0.1", port))
