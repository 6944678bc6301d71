# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Syncthing REST API client and the idempotent operations behind the syncthing_* modules.

Facts about Syncthing 1.19.2 (Debian bookworm) that shape this code, all checked on a real server:

* Auth is the ``X-API-Key`` header; a wrong or missing key gives ``403 CSRF Error``.
* ``POST /rest/config/{folders,devices}`` is a replace-upsert: fields left out are reset to their
  defaults. Every write therefore sends the current object merged with what the user asked for,
  and only the keys the user specified are compared.
* An unknown folder type is silently stored as ``sendreceive`` (HTTP 200): types are checked here.
* The node's own device is always in ``folder.devices``; comparisons ignore it.
* ``DELETE`` of a missing id answers 200, so existence is checked first to report ``changed`` honestly.
* ``PATCH`` ignores unknown keys silently: raw ``settings`` keys are checked against the real object.
* ``/rest/db/completion`` says 100 % before any index was exchanged; its per-device ``sequence``
  (the peer's index sequence) stays 0 until the peer's index has arrived.
* ``POST /rest/db/revert`` answers 200 for any folder type, and reverting a receive-only folder
  deletes files that were added locally, unless versioning keeps them in ``.stversions``.

Only ``ansible.module_utils`` and the standard library are used, so targets need nothing extra.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

FOLDER_TYPES = ("sendreceive", "sendonly", "receiveonly", "receiveencrypted")
# What Syncthing 1.19 would silently make of the legacy names, for a helpful error.
_LEGACY_FOLDER_TYPES = {"readwrite": "sendreceive", "readonly": "sendonly"}
COMPRESSION_MODES = ("metadata", "always", "never")
VERSIONING_TYPES = ("none", "trashcan", "simple", "staggered", "external")

# Module option -> Syncthing JSON key.
DEVICE_FIELDS = {
    "name": "name",
    "addresses": "addresses",
    "compression": "compression",
    "introducer": "introducer",
    "skip_introduction_removals": "skipIntroductionRemovals",
    "paused": "paused",
    "auto_accept_folders": "autoAcceptFolders",
    "allowed_networks": "allowedNetworks",
    "max_send_kbps": "maxSendKbps",
    "max_recv_kbps": "maxRecvKbps",
    "untrusted": "untrusted",
}
FOLDER_FIELDS = {
    "label": "label",
    "path": "path",
    "type": "type",
    "rescan_interval": "rescanIntervalS",
    "fs_watcher": "fsWatcherEnabled",
    "fs_watcher_delay": "fsWatcherDelayS",
    "ignore_perms": "ignorePerms",
    "paused": "paused",
}
OPTION_FIELDS = {
    "global_discovery": "globalAnnounceEnabled",
    "local_discovery": "localAnnounceEnabled",
    "relays": "relaysEnabled",
    "nat": "natEnabled",
    "crash_reporting": "crashReportingEnabled",
    "auto_upgrade_interval": "autoUpgradeIntervalH",
    "listen_addresses": "listenAddresses",
    "start_browser": "startBrowser",
}
# The usage-reporting version Syncthing 1.19 asks users to accept; -1 means "declined for good".
USAGE_REPORTING_VERSION = 3
RECEIVE_ONLY_COUNTERS = ("receiveOnlyChangedFiles", "receiveOnlyChangedDirectories",
                         "receiveOnlyChangedSymlinks", "receiveOnlyChangedDeletes")

_DEVICE_ID = re.compile(r"^[A-Z2-7]{56}$")


def api_argument_spec() -> dict:
    """Connection options shared by every syncthing_* module (documented in doc_fragments/syncthing.py)."""
    return {
        "api_url": {"type": "str", "default": "http://127.0.0.1:8384"},
        "api_key": {"type": "str", "required": True, "no_log": True,
                    "fallback": (env_fallback, ["SYNCTHING_API_KEY"])},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 10},
    }


class SyncthingError(Exception):
    """A Syncthing call or check failed; the message says what to do next."""


class SyncthingHTTPError(SyncthingError):
    """Syncthing answered with an HTTP error status."""

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class SyncthingClient:
    """A small client for one Syncthing instance's REST API (the GUI address)."""

    def __init__(self, api_url: str, api_key: str, validate_certs: bool = True, timeout: int = 10) -> None:
        if not re.match(r"^https?://", api_url or ""):
            raise SyncthingError(f"api_url {api_url!r} must start with http:// or https://, "
                                 "e.g. http://127.0.0.1:8384 (Syncthing's GUI address)")
        if not api_key:
            raise SyncthingError("api_key is empty: it is in Syncthing's config.xml at <gui><apikey>")
        self.base = api_url.rstrip("/")
        self.api_key = api_key
        self.validate_certs = validate_certs
        self.timeout = timeout
        self._my_id: str | None = None

    @classmethod
    def from_module(cls, module) -> SyncthingClient:
        params = module.params
        return cls(params["api_url"], params["api_key"], params["validate_certs"], params["timeout"])

    # -- transport --------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, query: dict | None = None, timeout: int | None = None):
        url = self.base + path + ("?" + urlencode(query) if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"X-API-Key": self.api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        where = f"{method} {self.base}{path}"
        try:
            # No proxy: the API is on loopback or the LAN, and a proxy from the environment would
            # swallow those requests.
            response = open_url(url, data=data, method=method, headers=headers, use_proxy=False,
                                timeout=timeout or self.timeout, validate_certs=self.validate_certs)
            raw = response.read()
        except HTTPError as exc:
            text = _read_error_body(exc)
            raise SyncthingHTTPError(self._explain_status(where, exc.code, text), exc.code, text) from None
        except SSLValidationError as exc:
            raise SyncthingError(f"{where}: TLS certificate check failed ({exc}). Syncthing's GUI certificate is "
                                 "self-signed: set validate_certs: false, or use http:// for a GUI on loopback.") from None
        except (URLError, UrlsConnectionError, OSError) as exc:
            raise SyncthingError(self._explain_connection(where, exc)) from None
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise SyncthingError(f"{where}: the answer is not JSON ({text[:120]!r}); is {self.base} really "
                                 "Syncthing's GUI address?") from None

    def _explain_status(self, where: str, status: int, text: str) -> str:
        if status == 403 and "CSRF" in text:
            return (f"{where}: 403 CSRF Error: the API key is wrong; it is in config.xml <gui><apikey> on that "
                    "Syncthing host (the GUI shows it under Actions > Settings > API Key)")
        if status == 401:
            return (f"{where}: 401 Not Authorized: the GUI requires a user and password and did not accept the "
                    "API key; check api_key against config.xml <gui><apikey>")
        if status == 400 and "HTTPS" in text:
            return f"{where}: the GUI speaks HTTPS; use an https:// api_url (and validate_certs: false)"
        return f"{where}: {status} {text or 'no message'}"

    def _explain_connection(self, where: str, exc: Exception) -> str:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
            return (f"{where}: Syncthing did not answer within {self.timeout} s; check that the host is up, "
                    "or raise timeout")
        if isinstance(reason, ssl.SSLError):
            return f"{where}: TLS failed ({reason}); for a self-signed GUI certificate set validate_certs: false"
        if isinstance(reason, ConnectionRefusedError) or "refused" in str(reason):
            return (f"{where}: connection refused; is Syncthing running (systemctl status 'syncthing@USER') and "
                    "is its GUI listening on that address (config.xml <gui><address>)?")
        return f"{where}: cannot reach Syncthing ({reason}); check api_url and that the host is reachable"

    def get(self, path: str, **query):
        return self.request("GET", path, query=query or None)

    def post(self, path: str, body=None, **query):
        return self.request("POST", path, body=body, query=query or None)

    def patch(self, path: str, body):
        return self.request("PATCH", path, body=body)

    def delete(self, path: str):
        return self.request("DELETE", path)

    def get_or_none(self, path: str):
        """GET an object, or None when Syncthing answers 404 (no such folder/device)."""
        try:
            return self.get(path)
        except SyncthingHTTPError as exc:
            if exc.status == 404:
                return None
            raise

    # -- small helpers ---------------------------------------------------------------------------
    def ping(self) -> None:
        self.get("/rest/system/ping")

    def wait_until_up(self, timeout: float) -> float:
        """Poll /rest/system/ping until Syncthing answers; return the seconds waited.

        A wrong API key fails at once: waiting would not fix it.
        """
        start = time.monotonic()
        while True:
            try:
                self.ping()
                return time.monotonic() - start
            except SyncthingHTTPError:
                raise
            except SyncthingError as exc:
                if time.monotonic() - start >= timeout:
                    raise SyncthingError(f"Syncthing did not come up within {timeout:g} s; last error: {exc}") from None
                time.sleep(0.5)

    def my_id(self) -> str:
        if self._my_id is None:
            self._my_id = self.get("/rest/system/status")["myID"]
        return self._my_id

    def version(self) -> str:
        return self.get("/rest/system/version").get("version", "")


def _read_error_body(exc: HTTPError) -> str:
    try:
        return (exc.read() or b"").decode("utf-8", "replace").strip()
    except Exception:  # pylint: disable=broad-exception-caught  # the body is only used for the message
        return ""


def _quoted(value: str) -> str:
    return quote(value, safe="")


# -- device IDs -------------------------------------------------------------------------------------
def normalize_device_id(value) -> str | None:
    """Return the canonical ``XXXXXXX-...`` form of a device ID, or None if it is not one.

    Syncthing accepts IDs in lower case and without dashes and stores the canonical form, so
    comparisons must use it too.
    """
    if not isinstance(value, str):
        return None
    compact = re.sub(r"[\s-]", "", value).upper()
    if not _DEVICE_ID.match(compact):
        return None
    return "-".join(compact[i:i + 7] for i in range(0, 56, 7))


def require_device_id(value) -> str:
    device_id = normalize_device_id(value)
    if device_id is None:
        raise SyncthingError(f"{value!r} is not a Syncthing device ID: expected 8 groups of 7 characters A-Z and 2-7 "
                             "separated by dashes, as printed by `syncthing --device-id` or shown in the GUI under "
                             "Actions > Show ID")
    return device_id


def short_id(device_id: str) -> str:
    return device_id.split("-", 1)[0]


# -- generic comparison -------------------------------------------------------------------------------
def _same(current, wanted) -> bool:
    # JSON round trip: 1 == 1.0 and True != 1 the way Syncthing sees them.
    return json.dumps(current, sort_keys=True) == json.dumps(wanted, sort_keys=True)


def _subset(obj: dict | None, keys) -> dict:
    if not obj:
        return {}
    return {k: copy.deepcopy(obj[k]) for k in keys if k in obj}


def _check_settings_keys(settings: dict, template: dict, what: str, reserved=()) -> None:
    """Raw ``settings`` keys must exist on the real object: Syncthing ignores unknown keys silently."""
    unknown = sorted(k for k in settings if k not in template)
    if unknown:
        raise SyncthingError(f"{what}: unknown setting(s) {', '.join(unknown)}; Syncthing would ignore them silently. "
                             f"Known keys: {', '.join(sorted(template))}")
    clash = sorted(k for k in settings if k in reserved)
    if clash:
        raise SyncthingError(f"{what}: set {', '.join(clash)} with the module's own option(s), not in settings")


def wanted_from_params(params: dict, fields: dict) -> dict:
    """The Syncthing keys for the module options the user set (None means "leave alone")."""
    return {api_key: params[option] for option, api_key in fields.items() if params.get(option) is not None}


def _result(changed: bool, before, after, summary: str, **extra) -> dict:
    result = {"changed": changed, "diff": {"before": before, "after": after}, "summary": summary}
    result.update(extra)
    return result


# -- devices ---------------------------------------------------------------------------------------------
def ensure_device(client: SyncthingClient, device_id: str, wanted: dict | None = None, settings: dict | None = None,
                  state: str = "present", check_mode: bool = False) -> dict:
    """Add, update or remove one device; only the keys in ``wanted`` and ``settings`` are compared.

    ``wanted`` holds the Syncthing keys of the module's own options, ``settings`` raw Syncthing keys
    for everything else (checked against the real object, since Syncthing ignores unknown keys).
    """
    did = require_device_id(device_id)
    wanted = copy.deepcopy(wanted or {})
    current = client.get_or_none(f"/rest/config/devices/{_quoted(did)}")
    label = _device_label(did, (current or {}).get("name") or wanted.get("name"))

    if state == "absent":
        if did == client.my_id():
            raise SyncthingError(f"device {label} is this Syncthing node's own device; it cannot be removed")
        if current is None:
            return _result(False, {}, {}, f"device {label} is absent", device={})
        if not check_mode:
            client.delete(f"/rest/config/devices/{_quoted(did)}")
        return _result(True, _subset(current, ["deviceID", "name", "addresses"]), {},
                       f"device {label} {'would be ' if check_mode else ''}removed", device={})

    if "compression" in wanted and wanted["compression"] not in COMPRESSION_MODES:
        raise SyncthingError(f"device {label}: compression {wanted['compression']!r} is not one of "
                             f"{', '.join(COMPRESSION_MODES)}")
    template = current if current is not None else client.get("/rest/config/defaults/device")
    _check_settings_keys(settings or {}, template, f"device {label}", reserved=set(DEVICE_FIELDS.values()) | {"deviceID"})
    wanted.update(copy.deepcopy(settings or {}))

    merged = copy.deepcopy(template)
    merged.update(wanted)
    merged["deviceID"] = did
    keys = ["deviceID"] + sorted(wanted)
    before = _subset(current, keys)
    after = _subset(merged, keys)
    if current is not None and all(_same(current.get(k), merged[k]) for k in wanted):
        return _result(False, before, after, f"device {label} is up to date", device=current)

    if not check_mode:
        client.post("/rest/config/devices", merged)
        stored = client.get(f"/rest/config/devices/{_quoted(did)}")
        _check_stored(stored, wanted, f"device {label}")
        merged = stored
    if current is None:
        verb = "added"
    else:
        verb = f"updated ({', '.join(k for k in sorted(wanted) if not _same(current.get(k), wanted[k]))})"
    return _result(True, before, after, f"device {label} {'would be ' if check_mode else ''}{verb}", device=merged)


def _device_label(device_id: str, name: str | None) -> str:
    return f"{name} ({short_id(device_id)})" if name else device_id


def _check_stored(stored: dict, wanted: dict, what: str) -> None:
    """Read-back check: Syncthing coerces some values silently (e.g. unknown folder types)."""
    wrong = {k: stored.get(k) for k in wanted if not _same(stored.get(k), wanted[k])}
    if wrong:
        asked = {k: wanted[k] for k in wrong}
        raise SyncthingError(f"{what}: Syncthing accepted the change but stored {wrong} instead of {asked}; "
                             "check the values against the Syncthing documentation")


# -- folders ---------------------------------------------------------------------------------------------
def validate_folder_type(folder_type: str, folder_id: str = "") -> str:
    if folder_type in FOLDER_TYPES:
        return folder_type
    hint = ""
    if folder_type in _LEGACY_FOLDER_TYPES:
        hint = f"; {folder_type!r} is a legacy name Syncthing turns into {_LEGACY_FOLDER_TYPES[folder_type]!r}"
    else:
        hint = "; Syncthing would silently store it as 'sendreceive'"
    raise SyncthingError(f"folder {folder_id}: type {folder_type!r} is not one of {', '.join(FOLDER_TYPES)}{hint}")


def versioning_wanted(spec: dict | None, current: dict | None) -> dict | None:
    """Translate the module's versioning option into Syncthing's object, merged over the current one."""
    if spec is None:
        return None
    kind = spec.get("type") or "none"
    if kind not in VERSIONING_TYPES:
        raise SyncthingError(f"versioning type {kind!r} is not one of {', '.join(VERSIONING_TYPES)}")
    merged = copy.deepcopy(current or {"type": "", "params": {}, "cleanupIntervalS": 3600,
                                       "fsPath": "", "fsType": "basic"})
    new_type = "" if kind == "none" else kind
    if spec.get("params") is not None:
        merged["params"] = {str(k): _param_str(v) for k, v in spec["params"].items()}
    elif merged.get("type") != new_type:
        merged["params"] = {}
    merged["type"] = new_type
    if spec.get("cleanup_interval") is not None:
        merged["cleanupIntervalS"] = spec["cleanup_interval"]
    if spec.get("fs_path") is not None:
        merged["fsPath"] = spec["fs_path"]
    return merged


def _param_str(value) -> str:
    # Syncthing keeps versioning params as strings; YAML gives ints and bools.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_devices(client: SyncthingClient, entries, what: str) -> list:
    """Turn device IDs or names of configured devices into canonical IDs (own device dropped)."""
    configured = client.get("/rest/config/devices")
    known_ids = {d["deviceID"] for d in configured}
    by_name: dict = {}
    for device in configured:
        by_name.setdefault(device.get("name"), []).append(device["deviceID"])
    own = client.my_id()
    resolved = []
    for entry in entries or []:
        did = normalize_device_id(entry)
        if did is None:
            matches = by_name.get(entry, [])
            if len(matches) != 1:
                names = ", ".join(sorted(n for n in by_name if n)) or "none"
                problem = "names several devices" if matches else "is neither a device ID nor the name of a configured device"
                raise SyncthingError(f"{what}: {entry!r} {problem} (configured: {names}); add the device first with "
                                     "sovereign.cloud.syncthing_device, or give its ID")
            did = matches[0]
        elif did not in known_ids:
            raise SyncthingError(f"{what}: device {did} is not configured on this node; add it first with "
                                 "sovereign.cloud.syncthing_device")
        if did != own and did not in resolved:
            resolved.append(did)
    return resolved


def _folder_device_ids(folder: dict | None, own: str) -> list:
    if not folder:
        return []
    return sorted(d["deviceID"] for d in folder.get("devices", []) if d["deviceID"] != own)


def _merge_folder_devices(current_entries: list, wanted_ids: list, own: str, append: bool) -> list:
    """Keep existing entries (their encryption passwords, introducer) and the own device."""
    by_id = {d["deviceID"]: d for d in current_entries}
    keep = set(wanted_ids) | {own}
    if append:
        keep |= set(by_id)
    merged = [copy.deepcopy(by_id[did]) for did in by_id if did in keep]
    for did in [own] + list(wanted_ids):
        if did not in by_id:
            merged.append({"deviceID": did, "introducedBy": "", "encryptionPassword": ""})
            by_id[did] = merged[-1]
    return merged


def _folder_view(folder: dict, keys, own: str) -> dict:
    view = _subset(folder, keys)
    if "devices" in view:
        view["devices"] = _folder_device_ids(folder, own)
    return view


def ensure_folder(client: SyncthingClient, folder_id: str, wanted: dict | None = None, settings: dict | None = None,
                  devices=None, append_devices: bool = False, versioning: dict | None = None,
                  state: str = "present", check_mode: bool = False) -> dict:
    """Add, update or remove one folder.

    ``wanted`` holds Syncthing keys (label, path, type, ...); ``devices`` lists the peers (IDs or
    names of configured devices) the folder is shared with, exactly unless ``append_devices``.
    The node's own device is always kept and never compared.
    """
    if not folder_id:
        raise SyncthingError("folder id is empty; Syncthing would answer 500 'folder has empty ID'")
    wanted = copy.deepcopy(wanted or {})
    if "type" in wanted:
        validate_folder_type(wanted["type"], folder_id)
    current = client.get_or_none(f"/rest/config/folders/{_quoted(folder_id)}")
    own = client.my_id()

    if state == "absent":
        if current is None:
            return _result(False, {}, {}, f"folder {folder_id} is absent", folder={})
        if not check_mode:
            client.delete(f"/rest/config/folders/{_quoted(folder_id)}")
        return _result(True, _folder_view(current, ["id", "label", "path", "type", "devices"], own), {},
                       f"folder {folder_id} {'would be ' if check_mode else ''}removed from Syncthing "
                       "(its files stay on disk)", folder={})

    if current is None and not wanted.get("path"):
        raise SyncthingError(f"folder {folder_id}: path is required to create it (Syncthing would use '~')")
    template = current if current is not None else client.get("/rest/config/defaults/folder")
    _check_settings_keys(settings or {}, template, f"folder {folder_id}",
                         reserved=set(FOLDER_FIELDS.values()) | {"id", "devices", "versioning"})
    wanted.update(copy.deepcopy(settings or {}))

    merged = copy.deepcopy(template)
    merged.update(wanted)
    merged["id"] = folder_id
    compared = sorted(wanted)
    if versioning is not None:
        merged["versioning"] = versioning_wanted(versioning, template.get("versioning"))
        compared.append("versioning")
    if devices is not None:
        wanted_ids = resolve_devices(client, devices, f"folder {folder_id}")
        merged["devices"] = _merge_folder_devices(template.get("devices", []), wanted_ids, own, append_devices)
        compared.append("devices")
    else:
        merged["devices"] = _merge_folder_devices(template.get("devices", []), [], own, True)

    keys = ["id"] + sorted(compared)
    before = _folder_view(current, keys, own) if current is not None else {}
    after = _folder_view(merged, keys, own)
    differing = [k for k in compared if current is None or not _same(
        _folder_view(current, [k], own).get(k), _folder_view(merged, [k], own).get(k))]
    if current is not None and not differing:
        return _result(False, before, after, f"folder {folder_id} is up to date", folder=current)

    if not check_mode:
        client.post("/rest/config/folders", merged)
        stored = client.get(f"/rest/config/folders/{_quoted(folder_id)}")
        _check_stored(stored, wanted, f"folder {folder_id}")
        merged = stored
    verb = "added" if current is None else f"updated ({', '.join(differing)})"
    return _result(True, before, after, f"folder {folder_id} {'would be ' if check_mode else ''}{verb}", folder=merged)


def without_secrets(value):
    """A copy of a Syncthing object without the devices' encryption passwords (a folder's device
    entry holds the password of an untrusted peer): each becomes ``encrypted: true/false``."""
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: without_secrets(item) for key, item in value.items() if key != "encryptionPassword"}
    if "encryptionPassword" in value:
        out["encrypted"] = bool(value["encryptionPassword"])
    return out


def converge_folder(client: SyncthingClient, folder_id: str, wanted: dict | None = None, settings: dict | None = None,
                    devices=None, append_devices: bool = False, versioning: dict | None = None,
                    state: str = "present", check_mode: bool = False, revert: bool = False,
                    revert_without_versioning: bool = False, wait_timeout: float = 60) -> dict:
    """ensure_folder(), then optionally revert local changes; what the syncthing_folder module does.
    The result holds no encryption password (see without_secrets)."""
    result = _converge_folder(client, folder_id, wanted, settings, devices, append_devices, versioning, state,
                              check_mode, revert, revert_without_versioning, wait_timeout)
    result["folder"] = without_secrets(result.get("folder") or {})
    result["diff"] = without_secrets(result.get("diff") or {})
    return result


def _converge_folder(client: SyncthingClient, folder_id: str, wanted: dict | None, settings: dict | None,
                     devices, append_devices: bool, versioning: dict | None, state: str, check_mode: bool,
                     revert: bool, revert_without_versioning: bool, wait_timeout: float) -> dict:
    result = ensure_folder(client, folder_id, wanted, settings=settings, devices=devices,
                           append_devices=append_devices, versioning=versioning, state=state,
                           check_mode=check_mode)
    if not revert or state == "absent":
        return result
    result["reverted"] = {key: 0 for key in RECEIVE_ONLY_COUNTERS}
    result["warnings"] = []
    if result["folder"].get("type") != "receiveonly":
        raise SyncthingError(f"folder {folder_id} is {result['folder'].get('type')}: revert_local_changes only "
                             "applies to receiveonly folders")
    if result["changed"] and not result["diff"]["before"]:
        # Created just now: no peer's index can have arrived yet, and nothing is there to revert.
        return result
    if check_mode and result["changed"] and result["diff"]["before"].get("type", "receiveonly") != "receiveonly":
        # A real run converts the folder first; only then are local changes tracked.
        return result
    revert_result = revert_local_changes(client, folder_id, check_mode=check_mode, wait_timeout=wait_timeout,
                                         require_versioning=not revert_without_versioning)
    result["reverted"] = revert_result["reverted"]
    if revert_result.get("skipped"):
        result["warnings"].append(f"not reverting: {revert_result['skipped']}")
    if revert_result.get("warning"):
        result["warnings"].append(revert_result["warning"])
    if revert_result["changed"]:
        count = sum(revert_result["reverted"].values())
        lead = result["summary"] if result["changed"] else f"folder {folder_id}"
        result["summary"] = f"{lead}; {count} local change(s) {'would be ' if check_mode else ''}reverted"
        result["changed"] = True
    return result


def receive_only_changes(status: dict) -> dict:
    return {key: int(status.get(key, 0)) for key in RECEIVE_ONLY_COUNTERS}


def revert_local_changes(client: SyncthingClient, folder_id: str, check_mode: bool = False,
                         wait_timeout: float = 60, require_versioning: bool = True) -> dict:
    """Undo local changes on a receive-only folder (POST /rest/db/revert), only when there are any.

    Guards, because reverting deletes files that were added locally:
    * the folder must be receive-only (Syncthing answers 200 for any type and does nothing useful);
    * versioning must be on (then reverted files are kept in .stversions), unless the caller opts out;
    * a peer's index for the folder must have arrived: before that, every local file counts as
      a "local change" and a revert would wipe the folder.
    """
    folder = client.get_or_none(f"/rest/config/folders/{_quoted(folder_id)}")
    if folder is None:
        raise SyncthingError(f"folder {folder_id} does not exist on {client.base}; nothing to revert")
    none = {key: 0 for key in RECEIVE_ONLY_COUNTERS}
    if folder["type"] != "receiveonly":
        raise SyncthingError(f"folder {folder_id} is {folder['type']}: only receiveonly folders can revert local "
                             "changes")
    if folder.get("paused"):
        return {"changed": False, "reverted": none, "skipped": f"folder {folder_id} is paused"}
    if require_versioning and not (folder.get("versioning") or {}).get("type"):
        raise SyncthingError(f"refusing to revert folder {folder_id}: it has no versioning, so locally added files "
                             "would be deleted for good. Enable versioning (e.g. versioning: {type: trashcan}) so "
                             "they are kept in .stversions, or opt out explicitly")
    peers = _folder_device_ids(folder, client.my_id())
    if not any(_peer_index_received(client, folder_id, peer) for peer in peers):
        return {"changed": False, "reverted": none,
                "skipped": f"no peer's index for folder {folder_id} has arrived yet (peers connected?); "
                           "reverting now would treat every local file as a local change"}
    # A scan only reads the disk; it makes changes made since the last scan visible in the counters.
    client.post("/rest/db/scan", folder=folder_id)
    counts = receive_only_changes(client.get("/rest/db/status", folder=folder_id))
    if not any(counts.values()):
        return {"changed": False, "reverted": counts}
    result = {"changed": True, "reverted": counts}
    if check_mode:
        return result
    client.post("/rest/db/revert", folder=folder_id)
    pending = _wait_folder_settled(client, folder_id, wait_timeout)
    if pending:
        result["warning"] = (f"folder {folder_id}: revert requested, but {pending} item(s) are still to be pulled "
                             f"after {wait_timeout:g} s; are the sending devices connected?")
    return result


def _peer_index_received(client: SyncthingClient, folder_id: str, peer: str) -> bool:
    connections = client.get("/rest/system/connections").get("connections", {})
    if not connections.get(peer, {}).get("connected"):
        return False
    completion = client.get("/rest/db/completion", folder=folder_id, device=peer)
    return int(completion.get("sequence", 0)) > 0


def _wait_folder_settled(client: SyncthingClient, folder_id: str, timeout: float) -> int:
    """Wait until the folder is idle with nothing to pull; return the items still needed."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get("/rest/db/status", folder=folder_id)
        need = int(status.get("needTotalItems", 0))
        if status.get("state") == "idle" and need == 0 and not any(receive_only_changes(status).values()):
            return 0
        if time.monotonic() >= deadline:
            return need
        time.sleep(0.3)


# -- global options --------------------------------------------------------------------------------------
def options_wanted(params: dict) -> dict:
    """Syncthing option keys from the module's options; ``lan_only`` switches off what leaves the LAN."""
    wanted = wanted_from_params(params, OPTION_FIELDS)
    if params.get("lan_only"):
        for option in ("global_discovery", "relays", "nat"):
            if params.get(option):
                raise SyncthingError(f"lan_only: true contradicts {option}: true; drop one of them")
            wanted[OPTION_FIELDS[option]] = False
    if params.get("usage_reporting") is not None:
        wanted["urAccepted"] = USAGE_REPORTING_VERSION if params["usage_reporting"] else -1
    return wanted


def ensure_options(client: SyncthingClient, wanted: dict, settings: dict | None = None,
                   check_mode: bool = False) -> dict:
    current = client.get("/rest/config/options")
    settings = copy.deepcopy(settings or {})
    _check_settings_keys(settings, current, "options", reserved=set(OPTION_FIELDS.values()) | {"urAccepted"})
    wanted = dict(wanted, **settings)
    # Accepting usage reporting keeps any newer version the user already accepted in the GUI.
    if wanted.get("urAccepted", 0) > 0 and current.get("urAccepted", 0) >= wanted["urAccepted"]:
        wanted["urAccepted"] = current["urAccepted"]
    keys = sorted(wanted)
    before = _subset(current, keys)
    differing = [k for k in keys if not _same(current.get(k), wanted[k])]
    if not differing:
        return _result(False, before, before, "Syncthing options are up to date", options=current)
    after = dict(before, **{k: wanted[k] for k in differing})
    options = dict(current, **after)
    if not check_mode:
        client.patch("/rest/config/options", {k: wanted[k] for k in differing})
        options = client.get("/rest/config/options")
        _check_stored(options, {k: wanted[k] for k in differing}, "options")
    return _result(True, before, after,
                   f"Syncthing options {'would be ' if check_mode else ''}changed: {', '.join(differing)}",
                   options=options)


# -- status ----------------------------------------------------------------------------------------------
def folder_status(client: SyncthingClient, folder: dict, connections: dict, own: str) -> dict:
    status = client.get("/rest/db/status", folder=folder["id"])
    peers = {}
    for peer in _folder_device_ids(folder, own):
        completion = client.get("/rest/db/completion", folder=folder["id"], device=peer)
        connected = bool(connections.get(peer, {}).get("connected"))
        peers[peer] = {"connected": connected,
                       "index_received": int(completion.get("sequence", 0)) > 0,
                       "completion": completion.get("completion"),
                       "need_items": completion.get("needItems", 0)}
    need = int(status.get("needTotalItems", 0))
    changes = receive_only_changes(status)
    return {
        "id": folder["id"],
        "label": folder.get("label", ""),
        "path": folder.get("path", ""),
        "type": folder.get("type", ""),
        "paused": folder.get("paused", False),
        "state": status.get("state", ""),
        "global_items": status.get("globalTotalItems", 0),
        "local_items": status.get("localTotalItems", 0),
        "need_items": need,
        "global_bytes": status.get("globalBytes", 0),
        "receive_only_changed_items": sum(changes.values()),
        "errors": status.get("errors", 0) + status.get("pullErrors", 0),
        "devices": peers,
        # Completion alone says 100 before any index arrived: require a peer's index as well.
        "in_sync": (status.get("state") == "idle" and need == 0
                    and any(p["connected"] and p["index_received"] for p in peers.values())),
    }


def gather_info(client: SyncthingClient, folders=None) -> dict:
    system = client.get("/rest/system/status")
    own = system["myID"]
    connections = client.get("/rest/system/connections").get("connections", {})
    configured = client.get("/rest/config/folders")
    known = {f["id"] for f in configured}
    missing = sorted(set(folders or []) - known)
    if missing:
        raise SyncthingError(f"folder(s) {', '.join(missing)} not configured on {client.base}; "
                             f"configured: {', '.join(sorted(known)) or 'none'}")
    devices = client.get("/rest/config/devices")
    return {
        "device_id": own,
        "version": client.version(),
        "uptime": system.get("uptime", 0),
        "devices": [{"device_id": d["deviceID"], "name": d.get("name", ""),
                     "connected": bool(connections.get(d["deviceID"], {}).get("connected")),
                     "address": connections.get(d["deviceID"], {}).get("address", "")}
                    for d in devices if d["deviceID"] != own],
        "folders": {f["id"]: folder_status(client, f, connections, own)
                    for f in configured if not folders or f["id"] in folders},
    }
