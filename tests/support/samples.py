"""Outputs of FreeBSD tools quoted by tests of more than one module."""

#: The tutorial's own ping of the host from a prisoner (ping(8)'s summary format).
SEED_PING = """\
PING 192.168.11.30 (192.168.11.30): 56 data bytes
64 bytes from 192.168.11.30: icmp_seq=0 ttl=64 time=0.053 ms
64 bytes from 192.168.11.30: icmp_seq=1 ttl=64 time=0.057 ms
64 bytes from 192.168.11.30: icmp_seq=2 ttl=64 time=0.044 ms

--- 192.168.11.30 ping statistics ---
3 packets transmitted, 3 packets received, 0.0% packet loss
round-trip min/avg/max/stddev = 0.044/0.051/0.057/0.005 ms
"""
