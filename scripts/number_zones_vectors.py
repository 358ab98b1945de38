#!/usr/bin/env python3
"""Writes tests/data/number_zones_vectors.txt: numbers and the zones
libphonenumber's PhoneNumberToTimeZonesMapper (getTimeZonesForNumber)
gives them, from the `phonenumbers` package, for the zones test.

    /tmp/pn/bin/python scripts/number_zones_vectors.py > tests/data/number_zones_vectors.txt
"""
import random
import phonenumbers
from phonenumbers import PhoneNumberType, timezone

rng = random.Random(7)
numbers = set()
types = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
         PhoneNumberType.VOIP, PhoneNumberType.FIXED_LINE_OR_MOBILE]
for region in sorted(phonenumbers.SUPPORTED_REGIONS):
    for t in types:
        ex = phonenumbers.example_number_for_type(region, t)
        if ex is None:
            continue
        e164 = phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.E164)
        numbers.add(e164)
        # Neighbours: the same prefix with other last digits (often valid).
        for _ in range(2):
            tail = "".join(rng.choice("0123456789") for _ in range(3))
            numbers.add(e164[:-3] + tail)
# The conformance cases' numbers, and some that are invalid.
numbers.update(["+16055550100", "+14165550100", "+33144556677", "+33612345678",
                "+919876543210", "+12125550100", "+61881234567", "+15555550100",
                "+18005550100", "+12", "+999123456", "+3312"])
print(f"# zones of numbers by libphonenumber {phonenumbers.__version__}: number, then zones joined by & (empty: unknown)")
for n in sorted(numbers):
    try:
        parsed = phonenumbers.parse(n, None)
        zones = [z for z in timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    except phonenumbers.NumberParseException:
        zones = []
    print(n, "&".join(zones))
