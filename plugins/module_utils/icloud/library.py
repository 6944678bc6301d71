# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An account's iCloud photo library as compact records: every asset with every file it has.

The listing goes through pyicloud's Photos service (``api.photos``), signed in with the session
icloudpd already keeps in its cookie directory. That directory is never written: pyicloud rewrites
its cookie jar and session file after every request (non-atomically), so the files are copied into
a private 0700 directory, pyicloud works there, and the copy is removed afterwards. A session that
Apple no longer accepts stops the listing with the re-authentication command; nothing here signs
in with a password (that would send a two-factor prompt to the family's devices).

Each asset becomes an :class:`ICloudAsset` as it streams past (pyicloud's own objects hold the
whole CloudKit records, ~10 KB each, and are dropped at once), so 100,000 assets fit in tens of
megabytes. Resource kinds (the files a deletion would lose):

* ``original`` (``resOriginal``), ``alternative`` (``resOriginalAlt``: the RAW of a RAW+JPEG pair,
  or the JPEG of a RAW original), ``live_video`` (``resOriginalVidCompl``: a Live Photo's movie);
* ``edited`` (``resJPEGFull``) and ``edited_video`` (``resVidFull``), read from the CPLAsset
  record, where Apple keeps an edit (pyicloud 2026 lists only the master's files).

Derivatives Apple makes itself (``medium``, ``thumb``, ``resVidMed``...) are not files a person
made and are not listed.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile

from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import client, session_files
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError

KINDS = ("original", "alternative", "live_video", "edited", "edited_video")
KIND_TEXT = {"original": "original", "alternative": "RAW/alternative original", "live_video": "live-photo video",
             "edited": "edited version", "edited_video": "edited video"}
# pyicloud's version keys (PhotoAsset.PHOTO_VERSION_LOOKUP / VIDEO_VERSION_LOOKUP) -> our kinds
_MASTER_KINDS = {"original": "original", "alternative": "alternative", "original_video": "live_video"}
# edits live on the CPLAsset record (icloudpd's "adjusted" size reads resJPEGFull there)
_ASSET_PREFIXES = (("edited", "resJPEGFull"), ("edited_video", "resVidFull"))
PRIMARY_LIBRARY = "PrimarySync"


class Resource:
    """One file of an asset in iCloud: its kind, the name pyicloud gives it, its size and UTI."""

    __slots__ = ("kind", "filename", "size", "uti")

    def __init__(self, kind: str, filename: str, size: int | None, uti: str | None) -> None:
        self.kind, self.filename, self.size, self.uti = kind, filename, size, uti

    def as_dict(self) -> dict:
        return {"kind": self.kind, "filename": self.filename, "size": self.size, "type": self.uti}


class ICloudAsset:
    """An iCloud asset: ``asset_id`` (CPLAsset recordName, pyicloud's ``id``), ``master_id``
    (CPLMaster recordName, what icloudpd's name-id7 encodes), the file name, ``item_type``
    (image/movie), capture and added times (epoch seconds, UTC) and its resources."""

    __slots__ = ("asset_id", "master_id", "filename", "item_type", "created", "added", "resources")

    def __init__(self, asset_id: str, master_id: str, filename: str, item_type: str, created: float,
                 added: float, resources: tuple) -> None:
        self.asset_id, self.master_id, self.filename = asset_id, master_id, filename
        self.item_type, self.created, self.added, self.resources = item_type, created, added, resources

    @property
    def size(self) -> int:
        return sum(r.size or 0 for r in self.resources)


def _epoch(moment) -> float:
    if isinstance(moment, _dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
        return moment.timestamp()
    return 0.0


def from_pyicloud(photo) -> ICloudAsset:
    """The compact record of one pyicloud ``PhotoAsset`` (its records are not kept)."""
    # pylint: disable-next=import-outside-toplevel
    from pyicloud.services.photos_cloudkit.mappers import build_photo_resource

    resources = []
    for key, resource in photo.resources.items():
        kind = _MASTER_KINDS.get(key)
        if kind is not None:
            resources.append(Resource(kind, resource.filename, resource.size, resource.type))
    for kind, prefix in _ASSET_PREFIXES:
        edit = build_photo_resource(key=kind, prefix=prefix, master_record=photo.asset_record, filename=photo.filename,
                                    item_type_extensions=photo.FILE_TYPE_EXTENSIONS, is_live_photo=False,
                                    item_type_lookup=photo.ITEM_TYPES)
        if edit is not None:
            resources.append(Resource(kind, edit.filename, edit.size, edit.type))
    return ICloudAsset(photo.id, photo.master_id, photo.filename, photo.item_type, _epoch(photo.asset_date),
                       _epoch(photo.added_date), tuple(resources))


def _private_copy(cookie_directory: str, username: str) -> str:
    """A private directory holding a copy of the account's session, where pyicloud may write."""
    source = session_files.session_paths(cookie_directory, username)
    # icloudpd rewrites its jar after every request: the newer of the two is the live session
    jars = [p for p in (source["icloudpd_jar"], source["pyicloud_jar"]) if os.path.isfile(p)]
    jar = max(jars, key=os.path.getmtime) if jars else None
    work = tempfile.mkdtemp(prefix="sovereign-icloud-list-")
    target = session_files.session_paths(work, username)
    try:
        if jar is not None:
            shutil.copyfile(jar, target["pyicloud_jar"])
        if os.path.isfile(source["session"]):
            shutil.copyfile(source["session"], target["session"])
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return work


def _album(api, library: str):
    photos = api.photos
    if library in (PRIMARY_LIBRARY, "root"):
        return photos.all
    libraries = photos.libraries
    for name, lib in libraries.items():
        zone = getattr(lib, "zone_id", None) or {}
        if library in (name, zone.get("zoneName") if isinstance(zone, dict) else None):
            return lib.all
    raise ICloudError("missing_library", f"the Apple ID has no photo library {library!r}; its libraries are "
                                         f"{', '.join(sorted(libraries)) or 'none'} (icloudpd --list-libraries "
                                         "shows their zone names)")


def list_assets(username: str, cookie_directory: str, reauth_command: str, library: str = PRIMARY_LIBRARY,
                domain: str = "com", transport=None, now=None):
    """Every asset of ``library``, as :class:`ICloudAsset` (a generator; the session is checked
    before the first one). Raises :class:`ICloudError` with the next step."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    state = session_files.read_state(cookie_directory, username, 0, now)
    if not state.trusted:
        raise ICloudError("session", f"{state.sentence(username)}: the report lists iCloud through that session and "
                                     f"never signs in itself. Run {reauth_command}, then run the report again")
    _service, exceptions = client.load_pyicloud()
    import requests  # pylint: disable=import-outside-toplevel
    work = _private_copy(cookie_directory, username)
    try:
        try:
            api = client.open_service(username, None, work, china=domain == "cn", transport=transport)
            status = api.get_auth_status()
            if not status.get("authenticated") or not status.get("trusted_session"):
                raise ICloudError("session", f"iCloud no longer accepts the session of {username} (the trust cookie "
                                             f"says {state.days_left} day(s) left, but Apple ended it): run "
                                             f"{reauth_command}, then run the report again")
            for photo in _album(api, library):
                yield from_pyicloud(photo)
        except (exceptions.PyiCloudException, requests.RequestException) as exc:
            raise client.translate(exc, username, reauth_command) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
