"""SRV look-ups with dnspython: the ``SrvResolver`` port.

Differences from the port's general contract worth knowing:

- It asks the system's DNS servers (``/etc/resolv.conf``), or only the one
  given as ``nameserver=(address, port)``, over UDP (TCP when the answer is
  truncated), without the search list: names are absolute.
- ``timeout`` bounds one look-up as a whole, retries included (dnspython's
  ``lifetime``); each try waits at most 2 s of it.
- DNSSEC is not validated: an answer is as trustworthy as the path to the DNS
  server, which is why ``esp-coord check --discover`` asks the operator to
  confirm what it found.
"""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rcode
import dns.resolver
from dns.rdtypes.IN.SRV import SRV

from esp_coord.ports import (
    NoSuchRecord,
    ResolverTimeout,
    ResolverUnavailable,
    SrvRecord,
)

_RCODE_WORDS = {
    "REFUSED": "refused to answer (REFUSED)",
    "SERVFAIL": "failed to answer (SERVFAIL: the domain's own DNS servers may be down "
                "or misconfigured)",
}


def describe_nameserver(nameserver: tuple[str, int] | None) -> str:
    """How the operator is told which DNS server was asked."""
    if nameserver is None:
        return "the system's DNS resolver"
    address, port = nameserver
    return f"the DNS server [{address}]:{port}" if ":" in address else \
        f"the DNS server {address}:{port}"


class DnsSrvResolver:
    def __init__(self, nameserver: tuple[str, int] | None = None, *,
                 timeout: float = 5.0) -> None:
        self.where = describe_nameserver(nameserver)
        self.timeout = timeout
        try:
            if nameserver is None:
                resolver = dns.asyncresolver.Resolver()
            else:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [dns.nameserver.Do53Nameserver(*nameserver)]
        except dns.resolver.NoResolverConfiguration:
            raise ResolverUnavailable("this machine has no DNS server configured "
                                      "(/etc/resolv.conf lists none)") from None
        except ValueError as e:  # an address dnspython cannot use
            raise ResolverUnavailable(f"{self.where} cannot be used ({e})") from None
        resolver.lifetime = timeout
        resolver.timeout = min(2.0, timeout)
        resolver.cache = None
        self._resolver = resolver

    async def srv(self, name: str) -> list[SrvRecord]:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            raise ValueError(f"{name!r} is not a DNS name") from None
        try:
            answer = await self._resolver.resolve(qname, "SRV", search=False)
        except dns.resolver.NXDOMAIN:
            raise NoSuchRecord(f"{name}: no such name") from None
        except dns.resolver.NoAnswer:
            raise NoSuchRecord(f"{name}: no SRV record") from None
        except dns.exception.Timeout:
            raise ResolverTimeout(f"{self.where} did not answer within "
                                  f"{self.timeout:g} s") from None
        except dns.resolver.NoNameservers as e:
            raise ResolverUnavailable(f"{self.where} {self._reasons(e)}") from None
        except dns.exception.DNSException as e:
            raise ResolverUnavailable(f"{self.where} gave an answer that cannot be used "
                                      f"({type(e).__name__})") from None
        except OSError as e:
            raise ResolverUnavailable(f"{self.where} cannot be reached "
                                      f"({e.strerror or type(e).__name__})") from None
        records = []
        for rdata in answer:
            if isinstance(rdata, SRV):
                target = "." if rdata.target == dns.name.root else \
                    rdata.target.to_text(omit_final_dot=True)
                records.append(SrvRecord(rdata.priority, rdata.weight, rdata.port, target))
        if not records:
            raise NoSuchRecord(f"{name}: no SRV record")
        return records

    @staticmethod
    def _reasons(error: dns.resolver.NoNameservers) -> str:
        """Plain words for what each try got: an rcode, or a network error."""
        words: list[str] = []
        for entry in error.kwargs.get("errors") or ():
            err, response = entry[3], entry[4]
            if response is not None:
                code = dns.rcode.to_text(response.rcode())
                text = _RCODE_WORDS.get(code, f"failed to answer ({code})")
            elif isinstance(err, OSError):
                text = f"cannot be reached ({err.strerror or type(err).__name__})"
            else:
                text = f"gave an answer that cannot be used ({type(err).__name__})"
            if text not in words:
                words.append(text)
        return "; ".join(words) or "failed to answer"
