# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The standard attributes every sovereign.cloud module declares (community.general's wording).
    # A module only states `support:` and its own `details:`; ansible-doc merges them with these descriptions.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Returns details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
"""

    # Together with the standard fragment, for modules that only read (the *_info modules).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode returns the same data.
  diff_mode:
    support: N/A
    details:
      - The module only reads.
"""
