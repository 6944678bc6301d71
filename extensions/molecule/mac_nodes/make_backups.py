"""Write iOS backup folders (<root>/<UDID>/Info.plist) as iMazing leaves them, with known ages (test data)."""

from __future__ import annotations

import datetime as dt
import os
import plistlib
import sys

ROOT = sys.argv[1]
NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
BACKUPS = [
    ("00008110-000A1B2C3D4E5F01", "Mom's iPhone", "iPhone14,5", 0.5),   # fresh
    ("00008110-000A1B2C3D4E5F02", "Mom's iPad", "iPad14,1", 20),        # stale (limit 7 days)
    ("00008030-000A1B2C3D4E5F09", "Old iPhone", "iPhone12,1", 400),     # unknown: in no matrix row
]
for udid, name, product, age_days in BACKUPS:
    folder = os.path.join(ROOT, udid)
    os.makedirs(folder, exist_ok=True)
    info = {"Device Name": name, "Display Name": name, "Product Type": product, "Unique Identifier": udid,
            "Target Identifier": udid, "Last Backup Date": NOW - dt.timedelta(days=age_days)}
    with open(os.path.join(folder, "Info.plist"), "wb") as handle:
        plistlib.dump(info, handle)
