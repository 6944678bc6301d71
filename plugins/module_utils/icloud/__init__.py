# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything that talks to or about iCloud:

* :mod:`.session_files`: the cookie directory icloudpd and pyicloud share (file names, the trust
  cookie's expiry, the countdown), standard library only so the icloudpd role ships it to hosts;
* :mod:`.client`: the one client of Apple's API, through pyicloud (sign-in with 2FA, the photo
  listing) and the translation of its failures into sentences a person can act on;
* :mod:`.session`: the engine of ``icloud_session`` (check, countdown, re-authentication, the
  icloudpd-compatible files written atomically with mode 0600).
"""
