# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How every sovereign.cloud module that talks to restic finds the repository and opens it.
    DOCUMENTATION = r"""
options:
  repository:
    description:
      - The restic repository, as restic's C(-r) takes it, for example V(/srv/backup/restic),
        V(sftp:backup@nas.home.arpa:/srv/restic/server) or V(s3:s3.us-west-004.backblazeb2.com/bucket/server).
      - Overrides E(RESTIC_REPOSITORY) from O(env_file) and O(env).
    type: str
  password:
    description:
      - The repository password. Keep it in ansible-vault.
      - Overrides O(password_file) and E(RESTIC_PASSWORD) from O(env_file).
    type: str
  password_file:
    description: A file on the managed host holding the repository password (restic's C(--password-file)).
    type: path
  env_file:
    description:
      - A C(KEY="value") environment file on the managed host, as the P(sovereign.cloud.restic_backup#role) role
        writes for each repository (C(/etc/sovereign/restic/<name>.env), root only, mode 0600).
      - Using it keeps the credentials out of the playbook. O(repository), O(password) and O(env) override it.
    type: path
  env:
    description:
      - Extra environment for restic, such as the S3 or Backblaze B2 credentials
        (E(AWS_ACCESS_KEY_ID), E(AWS_SECRET_ACCESS_KEY), E(B2_ACCOUNT_ID), E(B2_ACCOUNT_KEY)). Keep the values in
        ansible-vault.
    type: dict
    default: {}
  restic_binary:
    description: The restic executable on the managed host (a name looked up on E(PATH), or a path).
    type: str
    default: restic
  cache_dir:
    description: restic's cache directory (C(--cache-dir)). By default restic's own (C(~/.cache/restic)).
    type: path
requirements:
  - restic 0.14 or later on the managed host (Debian bookworm's C(restic) package).
notes:
  - restic 0.14 exits with 1 for both "no repository" and "wrong password"; these modules tell them apart by
    restic's error text and say what to do for each. A wrong password never leads to a new repository.
  - Passwords and credentials are never returned or logged, also when they come from O(env_file).
"""
