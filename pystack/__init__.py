"""pystack: replay pcap captures through a userspace model of the Linux network stack."""

__version__ = "0.1.0"
