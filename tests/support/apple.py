"""Apple for the tests: cookie directories, and in-process answers to pyicloud's HTTP requests.

Apple cannot be reached from a test and must not be emulated as a server. So:

* :func:`write_session` writes a cookie directory the way icloudpd does (``http.cookiejar``'s
  ``LWPCookieJar`` plus the ``.session`` JSON): fresh, near expiry, expired, without the trust
  cookie, or corrupt;
* :class:`AppleAnswers` is a ``requests`` transport adapter mounted on pyicloud's own session (the
  ``transport`` hook of ``icloud.client.open_service``). pyicloud builds and sends every request
  itself; the adapter answers it in-process from an :class:`Account`, with bodies, headers and
  cookies written by this project from the documented shapes (reference icloud-immich.md
  sections 1.8, 3.2, 3.3; apis/icloud/NOTES.md), not recorded from another project.

The sign-in is real SRP-6a: the answers hold a verifier derived from the account's password the
way Apple derives it (PBKDF2 of its SHA-256, protocol ``s2k``), so a wrong password fails the
proof, not a string comparison. Modelled routes: SMS codes, trusted-device codes (Apple's legacy
verifier, which also takes codes from Settings > Get Verification Code), security keys, the
trust step, Advanced Data Protection (``isICDRSDisabled``), web access off (ACCESS_DENIED "private
db access disabled"), throttling (HTTP 503 at ``signin/init``), a locked account (-20209), and
the Photos listing (CheckIndexingState, the album list, the batch count and the asset pages).
Not modelled: the 2026 trusted-device bridge (pyicloud's own tests cover its protocol).
"""

from __future__ import annotations

import base64
import datetime as _dt
import email.utils
import hashlib
import http.client
import http.cookiejar
import io
import json
import os
import re
import secrets
import time
import urllib.parse

from requests.adapters import BaseAdapter, HTTPAdapter
import urllib3

AUTH = "https://idmsa.apple.com/appleauth/auth"
SETUP = "https://setup.icloud.com/setup/ws/1"
CKDATABASE = "https://p42-ckdatabasews.icloud.com:443"
PHOTOS_DB = f"{CKDATABASE}/database/1/com.apple.photos.cloud/production/private"


_WRITTEN_WEB_TOKEN = "v=2:t=AQAAAABn"


def account_key(apple_id: str) -> str:
    return "".join(c for c in apple_id if re.match(r"\w", c))


# ------------------------------------------------------------------------------------------------
# Cookie directories as icloudpd writes them


def _cookie(name: str, value: str, domain: str, expires: int | None) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        version=0, name=name, value=value, port=None, port_specified=False, domain=domain,
        domain_specified=True, domain_initial_dot=domain.startswith("."), path="/", path_specified=True,
        secure=True, expires=expires, discard=expires is None, comment=None, comment_url=None,
        rest={"HttpOnly": None}, rfc2109=False)


def write_session(directory, apple_id: str, trust_days: float | None = 30.0, *, now: float | None = None,
                  trust_cookie: bool = True, corrupt: bool = False, session_file: bool = True,
                  name: str | None = None, trust_name: str = "X-APPLE-WEBAUTH-HSA-TRUST") -> dict:
    """A cookie directory for ``apple_id`` whose trust cookie ends ``trust_days`` from ``now``
    (negative: already ended). ``name`` overrides the jar's file name (``<key>.cookiejar`` for
    pyicloud's). Returns the paths written."""
    now = time.time() if now is None else now
    directory = str(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = account_key(apple_id)
    jar_path = os.path.join(directory, name or key)
    if corrupt:
        with open(jar_path, "w", encoding="utf-8") as handle:
            handle.write("<html>this is not a cookie jar</html>\n")
    else:
        jar = http.cookiejar.LWPCookieJar(jar_path)
        day = 86400
        jar.set_cookie(_cookie("X-APPLE-WEBAUTH-USER", '"v=1:s=0:d=12345678"', ".icloud.com", int(now + 30 * day)))
        jar.set_cookie(_cookie("X-APPLE-WEBAUTH-TOKEN", f'"{_WRITTEN_WEB_TOKEN}"', ".icloud.com", None))
        jar.set_cookie(_cookie("X-APPLE-DS-WEB-SESSION-TOKEN", '"AQEs"', ".icloud.com", None))
        if trust_cookie and trust_days is not None:
            jar.set_cookie(_cookie(trust_name, '"HSARMTKNSRVWFla"', ".icloud.com", int(now + trust_days * day)))
        jar.save(ignore_discard=True, ignore_expires=True)
    paths = {"jar": jar_path}
    if session_file:
        session_path = os.path.join(directory, key + ".session")
        with open(session_path, "w", encoding="utf-8") as handle:
            json.dump({"client_id": "auth-4b3c1e6e-0000-11ef-8000-000000000000", "account_country": "USA",
                       "session_id": "sid", "session_token": "old-session-token", "trust_token": "old-trust-token",
                       "scnt": "scnt"}, handle)
        paths["session"] = session_path
    for path in paths.values():
        os.chmod(path, 0o600)
    return paths


# ------------------------------------------------------------------------------------------------
# The account the answers act for


class Account:
    """One Apple ID as Apple would hold it. ``two_factor``: ``sms``, ``trusted_device`` (Apple pushes
    the code to the devices itself) or ``security_key``; ``code`` is the code Apple delivers,
    ``device_code`` one made on a trusted device (only the trusted-device verifier takes it)."""

    def __init__(self, apple_id: str = "parent.a@example.com", password: str = "correct horse battery",
                 two_factor: str = "sms", code: str = "123456", device_code: str = "654321",
                 trust_days: int = 30, adp: bool = False, web_access: bool = True, throttle: bool = False,
                 locked: bool = False, trust_works: bool = True, photos: list | None = None,
                 page_limit: int | None = None) -> None:
        self.apple_id, self.password, self.two_factor = apple_id, password, two_factor
        self.code, self.device_code, self.trust_days = code, device_code, trust_days
        self.adp, self.web_access, self.throttle, self.locked = adp, web_access, throttle, locked
        self.trust_works = trust_works
        self.photos = photos or []
        self.page_limit = page_limit
        self.dsid = "12345678901"


class _Original:
    """The part of an ``http.client.HTTPResponse`` that requests and urllib3 read."""

    def __init__(self, msg: http.client.HTTPMessage) -> None:
        self.msg = msg

    def isclosed(self) -> bool:
        return True


def _http_date(moment: float) -> str:
    return email.utils.formatdate(moment, usegmt=True)


class AppleAnswers(BaseAdapter):
    """Answers pyicloud's requests in-process (see the module docstring). ``calls`` records each
    request as ``(METHOD, path)`` so tests can assert what was (not) asked, e.g. no retry."""

    def __init__(self, account: Account) -> None:
        super().__init__()
        self.account = account
        self.calls: list[tuple[str, str]] = []
        self.codes_checked = 0
        self._srp = None
        self._session_tokens: set[str] = set()
        self._trust_tokens: set[str] = set()
        self._web_tokens: set[str] = set()
        self._code_verified = False
        self._sms_sent = False
        self._c = secrets.token_hex(8)

    # -------------------------------------------------------------- transport
    def close(self) -> None:
        pass

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ARG002
        url = urllib.parse.urlsplit(request.url)
        path = url.path
        self.calls.append((request.method, f"{url.scheme}://{url.netloc}{path}"))
        body = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        full = f"{url.scheme}://{url.netloc}{path}"
        handler = self._route(request.method, full)
        if handler is None:
            return self._reply(request, 404, {"error": f"no answer for {request.method} {full}"})
        return handler(request, payload)

    def _route(self, method: str, url: str):
        routes = {
            ("GET", f"{AUTH}/authorize/signin"): self._authorize,
            ("POST", f"{AUTH}/signin/init"): self._signin_init,
            ("POST", f"{AUTH}/signin/complete"): self._signin_complete,
            ("GET", AUTH): self._auth_options,
            ("PUT", f"{AUTH}/verify/phone"): self._send_sms,
            ("POST", f"{AUTH}/verify/phone/securitycode"): self._verify_sms,
            ("POST", f"{AUTH}/verify/trusteddevice/securitycode"): self._verify_device,
            ("GET", f"{AUTH}/2sv/trust"): self._trust,
            ("POST", f"{SETUP}/accountLogin"): self._account_login,
            ("POST", f"{SETUP}/validate"): self._validate,
            ("POST", f"{SETUP}/requestWebAccessState"): self._web_access_state,
            ("POST", f"{PHOTOS_DB}/records/query"): self._records_query,
            ("POST", f"{PHOTOS_DB}/zones/list"): self._zones_list,
            ("POST", f"{PHOTOS_DB}/internal/records/query/batch"): self._batch_count,
        }
        return routes.get((method, url))

    def _reply(self, request, status: int, body=None, headers: dict | None = None, cookies: list | None = None,
               content_type: str = "application/json"):
        if body is None:
            data = b""
        elif isinstance(body, (bytes, str)):
            data = body.encode("utf-8") if isinstance(body, str) else body
        else:
            data = json.dumps(body).encode("utf-8")
        all_headers = {"Content-Type": content_type} if data else {}
        all_headers.update(headers or {})
        message = http.client.HTTPMessage()
        for key, value in all_headers.items():
            message[key] = value
        for cookie in cookies or []:
            message["Set-Cookie"] = cookie
        raw = urllib3.HTTPResponse(body=io.BytesIO(data), headers=list(message.items()), status=status,
                                   reason=http.client.responses.get(status, ""), preload_content=False,
                                   decode_content=False)
        # requests reads Set-Cookie through the original http.client response's headers.
        raw._original_response = _Original(message)  # pylint: disable=protected-access
        return HTTPAdapter.build_response(HTTPAdapter(), request, raw)

    def _apple_headers(self) -> dict:
        return {"scnt": "scnt-" + secrets.token_hex(4), "X-Apple-ID-Session-Id": "session-" + secrets.token_hex(4),
                "X-Apple-ID-Account-Country": "USA"}

    # -------------------------------------------------------------- idmsa: sign-in
    def _authorize(self, request, _payload):
        headers = self._apple_headers()
        headers["X-Apple-Auth-Attributes"] = "attrs-" + secrets.token_hex(4)
        return self._reply(request, 200, "<html><body>sign in</body></html>", headers, content_type="text/html")

    def _signin_init(self, request, payload):
        if self.account.throttle:
            # What users report when Apple throttles sign-ins (icloudpd #1308): a bare 503.
            return self._reply(request, 503, "", content_type="text/html")
        import srp._pysrp as pysrp  # the pure-Python reference implementation, for the server side
        pysrp.rfc5054_enable()
        pysrp.no_username_in_x()
        salt, iterations = secrets.token_bytes(16), 1000
        derived = hashlib.pbkdf2_hmac("sha256", hashlib.sha256(self.account.password.encode()).digest(), salt,
                                      iterations, 32)
        n, g = pysrp.get_ng(pysrp.NG_2048, None, None)
        x = pysrp.gen_x(hashlib.sha256, salt, self.account.apple_id, derived)
        verifier = pysrp.long_to_bytes(pow(g, x, n))
        a = base64.b64decode(payload["a"])
        self._srp = pysrp.Verifier(payload["accountName"], salt, verifier, a, hash_alg=pysrp.SHA256,
                                   ng_type=pysrp.NG_2048)
        _s, b = self._srp.get_challenge()
        return self._reply(request, 200, {"iteration": iterations, "salt": base64.b64encode(salt).decode(),
                                          "protocol": "s2k", "b": base64.b64encode(b).decode(), "c": self._c},
                           self._apple_headers())

    def _signin_complete(self, request, payload):
        if self.account.locked:
            return self._reply(request, 403, {"serviceErrors": [
                {"code": "-20209", "message": "This Apple Account has been locked for security reasons."}]})
        proof = base64.b64decode(payload.get("m1", ""))
        if self._srp is None or payload.get("c") != self._c or self._srp.verify_session(proof) is None:
            return self._reply(request, 401, {"serviceErrors": [
                {"code": "-20101", "message": "Check the account information you entered and try again.",
                 "suppressDismissal": False}]}, self._apple_headers())
        if any(t in self._trust_tokens for t in payload.get("trustTokens") or []):
            return self._reply(request, 200, {"authType": "hsa2"}, self._session_headers())
        return self._reply(request, 409, {"authType": "hsa2"}, self._apple_headers())

    def _auth_options(self, request, _payload):
        phone = {"id": 1, "numberWithDialCode": "+1 (•••) •••-••55", "obfuscatedNumber": "(•••) •••-••55",
                 "lastTwoDigits": "55", "pushMode": "sms"}
        security_code = {"length": 6, "tooManyCodesSent": False, "tooManyCodesValidated": False,
                         "securityCodeLocked": False}
        options = {"trustedPhoneNumbers": [phone], "securityCode": security_code,
                   "authenticationType": "hsa2", "recoveryUrl": "https://iforgot.apple.com/phone/add",
                   "hsa2Account": True, "noTrustedDevices": self.account.two_factor == "sms"}
        if self.account.two_factor == "sms":
            options.update(trustedPhoneNumber=phone, mode="sms")
        elif self.account.two_factor == "security_key":
            options.update(fsaChallenge={"challenge": "Y2hhbGxlbmdl", "keyHandles": ["a2V5"],
                                         "rpId": "apple.com"}, keyNames=["YubiKey"])
        return self._reply(request, 200, options, self._apple_headers())

    def _send_sms(self, request, payload):
        if (payload or {}).get("phoneNumber", {}).get("id") != 1:
            return self._reply(request, 400, {"serviceErrors": [{"code": "-21680", "message": "Unknown number"}]})
        self._sms_sent = True
        return self._reply(request, 200, {"trustedPhoneNumber": {"id": 1, "pushMode": "sms"},
                                          "securityCode": {"length": 6}}, self._apple_headers())

    def _code_answer(self, request, accepted: bool):
        self.codes_checked += 1
        if not accepted:
            return self._reply(request, 400, {"service_errors": [
                {"code": "-21669", "message": "Incorrect verification code."}], "hasError": True})
        self._code_verified = True
        return self._reply(request, 204, None, self._session_headers())

    def _verify_sms(self, request, payload):
        code = ((payload or {}).get("securityCode") or {}).get("code")
        return self._code_answer(request, self._sms_sent and code == self.account.code)

    def _verify_device(self, request, payload):
        code = ((payload or {}).get("securityCode") or {}).get("code")
        accepted = code == self.account.device_code or (self.account.two_factor == "trusted_device"
                                                        and code == self.account.code)
        return self._code_answer(request, accepted)

    def _session_headers(self) -> dict:
        token = "session-token-" + secrets.token_hex(8)
        self._session_tokens.add(token)
        headers = self._apple_headers()
        headers["X-Apple-Session-Token"] = token
        return headers

    def _trust(self, request, _payload):
        if not self._code_verified:
            return self._reply(request, 401, {"serviceErrors": [{"code": "-20101", "message": "Not verified"}]})
        headers = self._session_headers()
        if self.account.trust_works:
            trust = "trust-token-" + secrets.token_hex(8)
            self._trust_tokens.add(trust)
            headers["X-Apple-TwoSV-Trust-Token"] = trust
        return self._reply(request, 204, None, headers)

    # -------------------------------------------------------------- setup.icloud.com
    def _login_body(self, trusted: bool) -> dict:
        return {
            "dsInfo": {"dsid": self.account.dsid, "hsaVersion": 2, "appleId": self.account.apple_id,
                       "fullName": "Parent A", "languageCode": "en-us", "iCloudAppleIdAlias": ""},
            "hsaTrustedBrowser": trusted, "hsaChallengeRequired": not trusted, "termsUpdateNeeded": False,
            "webservices": {"ckdatabasews": {"url": CKDATABASE, "status": "active", "pcsRequired": True},
                            "account": {"url": "https://p42-setup.icloud.com:443", "status": "active"}},
            "apps": {"photos": {"canLaunchWithOneFactor": False}},
        }

    def _account_login(self, request, payload):
        token = (payload or {}).get("dsWebAuthToken")
        if token not in self._session_tokens:
            return self._reply(request, 421, {"success": False, "error": "Invalid global session"})
        trusted = (payload or {}).get("trustToken") in self._trust_tokens
        now = time.time()
        web = "v=2:t=" + secrets.token_hex(12)
        self._web_tokens.add(web)
        cookies = [
            f'X-APPLE-WEBAUTH-USER="v=1:s=0:d={self.account.dsid}"; Expires={_http_date(now + 30 * 86400)}; '
            "Domain=.icloud.com; Path=/; Secure; HttpOnly",
            f'X-APPLE-WEBAUTH-TOKEN="{web}"; Domain=.icloud.com; Path=/; Secure; HttpOnly',
            'X-APPLE-DS-WEB-SESSION-TOKEN="AQE"; Domain=.icloud.com; Path=/; Secure; HttpOnly',
        ]
        if trusted:
            cookies.append(f'X-APPLE-WEBAUTH-HSA-TRUST="{secrets.token_hex(16)}"; '
                           f"Expires={_http_date(now + self.account.trust_days * 86400)}; Domain=.icloud.com; "
                           "Path=/; Secure; HttpOnly")
        return self._reply(request, 200, self._login_body(trusted), cookies=cookies)

    def _validate(self, request, _payload):
        cookie = request.headers.get("Cookie", "")
        if not any(token in cookie for token in self._web_tokens):
            return self._reply(request, 421, {"success": False, "error": "Missing X-APPLE-WEBAUTH-TOKEN cookie"})
        return self._reply(request, 200, self._login_body(True))

    def accept_written_session(self, directory, apple_id: str | None = None, **options) -> dict:
        """Write a trusted cookie directory (:func:`write_session`) whose web token Apple, here,
        still accepts: what a directory looks like after icloudpd or icloud_session signed in."""
        paths = write_session(directory, apple_id or self.account.apple_id, **options)
        self._web_tokens.add(_WRITTEN_WEB_TOKEN)
        return paths

    def _web_access_state(self, request, _payload):
        return self._reply(request, 200, {"isICDRSDisabled": self.account.adp,
                                          "isDeviceConsentedForPCS": not self.account.adp,
                                          "isDeviceConsentNotificationSent": False})

    # -------------------------------------------------------------- CloudKit (Photos)
    def _denied(self, request):
        return self._reply(request, 403, {"uuid": "00000000-0000-0000-0000-000000000000",
                                          "serverErrorCode": "ACCESS_DENIED",
                                          "reason": "private db access disabled for this account"})

    def _zones_list(self, request, _payload):
        if not self.account.web_access:
            return self._denied(request)
        zone = {"zoneName": "PrimarySync", "ownerRecordName": "_owner", "zoneType": "REGULAR_CUSTOM_ZONE"}
        return self._reply(request, 200, {"zones": [{"zoneID": zone, "syncToken": "sync-1", "atomic": True}]})

    def _records_query(self, request, payload):
        if not self.account.web_access:
            return self._denied(request)
        query = (payload or {}).get("query") or {}
        record_type = query.get("recordType")
        if record_type == "CheckIndexingState":
            return self._reply(request, 200, {"records": [{
                "recordName": "_1", "recordType": "CheckIndexingState", "recordChangeTag": "1",
                "fields": {"state": {"value": "FINISHED", "type": "STRING"},
                           "progress": {"value": 100, "type": "INT64"}}}], "syncToken": "sync-1"})
        if record_type == "CPLAlbumByPositionLive":
            return self._reply(request, 200, {"records": [], "syncToken": "sync-1"})
        if record_type == "CPLAssetAndMasterByAssetDateWithoutHiddenOrDeleted":
            return self._reply(request, 200, {"records": self._asset_page(query, payload), "syncToken": "sync-1"})
        return self._reply(request, 400, {"serverErrorCode": "BAD_REQUEST", "reason": f"unknown {record_type}"})

    def _batch_count(self, request, _payload):
        if not self.account.web_access:
            return self._denied(request)
        return self._reply(request, 200, {"batch": [{"records": [{
            "recordName": "HyperionIndexCountLookup", "recordType": "HyperionIndexCountLookup",
            "fields": {"itemCount": {"value": len(self.account.photos), "type": "INT64"}}}]}]})

    def _asset_page(self, query: dict, payload: dict) -> list:
        """The records of one page: CloudKit answers a list query with CPLMaster and CPLAsset records
        side by side, ``startRank`` counted in the index's order (newest first when descending)."""
        filters = {f["fieldName"]: f["fieldValue"]["value"] for f in query.get("filterBy") or []}
        start = int(filters.get("startRank", 0))
        direction = filters.get("direction", "ASCENDING")
        limit = int(payload.get("resultsLimit") or 100) // 2
        photos = self.account.photos  # oldest first
        if direction == "DESCENDING":
            picked = [photos[i] for i in range(start, max(start - limit, -1), -1) if 0 <= i < len(photos)]
        else:
            picked = photos[start:start + limit]
        records = []
        for photo in picked:
            records.extend(photo.records())
        return records


# ------------------------------------------------------------------------------------------------
# Photos as CloudKit records


class Resource:
    """One file of an asset in iCloud: ``prefix`` is the CloudKit field prefix (``resOriginal``,
    ``resOriginalVidCompl``, ``resOriginalAlt``, ``resJPEGFull``)."""

    def __init__(self, prefix: str, data: bytes, uti: str, on_asset: bool = False) -> None:
        self.prefix, self.data, self.uti, self.on_asset = prefix, data, uti, on_asset

    def fields(self, record_name: str) -> dict:
        checksum = base64.b64encode(b"\x01" + hashlib.sha1(self.data).digest()).decode()
        return {
            f"{self.prefix}Res": {"type": "ASSETID", "value": {
                "fileChecksum": checksum, "size": len(self.data), "wrappingKey": "d3JhcA==",
                "referenceChecksum": checksum,
                "downloadURL": f"https://cvws.icloud-content.com/B/{record_name}/${{f}}?o=download"}},
            f"{self.prefix}FileType": {"type": "STRING", "value": self.uti},
            f"{self.prefix}Fingerprint": {"type": "STRING", "value": checksum},
            f"{self.prefix}Width": {"type": "INT64", "value": 4032},
            f"{self.prefix}Height": {"type": "INT64", "value": 3024},
        }


class Photo:
    """A CPLMaster + CPLAsset pair. ``master_id`` is what icloudpd's name-id7 encodes."""

    def __init__(self, master_id: str, filename: str, resources: list[Resource], taken: _dt.datetime,
                 asset_id: str | None = None, item_type: str | None = None, adjusted: bool = False) -> None:
        self.master_id, self.filename, self.resources, self.taken = master_id, filename, resources, taken
        self.asset_id = asset_id or "A" + master_id[1:]
        self.item_type = item_type or resources[0].uti
        self.adjusted = adjusted

    def records(self) -> list[dict]:
        ms = int(self.taken.timestamp() * 1000)
        master_fields = {
            "filenameEnc": {"type": "ENCRYPTED_BYTES", "value": base64.b64encode(self.filename.encode()).decode()},
            "itemType": {"type": "STRING", "value": self.item_type},
            "originalOrientation": {"type": "INT64", "value": 1},
        }
        asset_fields = {
            "assetDate": {"type": "TIMESTAMP", "value": ms}, "addedDate": {"type": "TIMESTAMP", "value": ms + 60000},
            "masterRef": {"type": "REFERENCE", "value": {"recordName": self.master_id, "action": "DELETE_SELF",
                                                         "zoneID": {"zoneName": "PrimarySync"}}},
            "isFavorite": {"type": "INT64", "value": 0}, "isHidden": {"type": "INT64", "value": 0},
            "timeZoneOffset": {"type": "INT64", "value": 0},
        }
        if self.adjusted:
            asset_fields["adjustmentType"] = {"type": "STRING", "value": "com.apple.photo"}
        for resource in self.resources:
            (asset_fields if resource.on_asset else master_fields).update(resource.fields(self.master_id))
        return [
            {"recordName": self.master_id, "recordType": "CPLMaster", "recordChangeTag": "m1",
             "fields": master_fields, "zoneID": {"zoneName": "PrimarySync", "zoneType": "REGULAR_CUSTOM_ZONE"}},
            {"recordName": self.asset_id, "recordType": "CPLAsset", "recordChangeTag": "a1",
             "fields": asset_fields, "zoneID": {"zoneName": "PrimarySync", "zoneType": "REGULAR_CUSTOM_ZONE"}},
        ]


def id7(master_id: str) -> str:
    """icloudpd's name-id7 suffix: the first 7 characters of base64(CPLMaster recordName)."""
    return base64.b64encode(master_id.encode()).decode("ascii")[:7]


# icloudpd's extension for a UTI (ITEM_TYPE_EXTENSIONS, reference section 1.3)
UTI_EXTENSIONS = {"public.heic": "HEIC", "public.heif": "HEIF", "public.jpeg": "JPG", "public.png": "PNG",
                  "com.apple.quicktime-movie": "MOV", "com.adobe.raw-image": "DNG", "com.canon.cr2-raw-image": "CR2"}


def icloudpd_filename(photo: Photo, resource: Resource, policy: str = "name-id7") -> str:
    """The name icloudpd gives one file of ``photo`` with ``--file-match-policy`` ``policy`` and
    ``--live-photo-mov-filename-policy original``: the id7 on the original and the Live Photo movie,
    none on an alternative or adjusted version (icloudpd #1249); an adjusted version whose extension
    collides with the original's gets ``-adjusted``."""
    stem = os.path.splitext(photo.filename)[0]
    ext = UTI_EXTENSIONS[resource.uti]
    if resource.prefix in ("resOriginal", "resOriginalVidCompl"):
        return f"{stem}_{id7(photo.master_id)}.{ext}" if policy == "name-id7" else f"{stem}.{ext}"
    if resource.prefix == "resJPEGFull":
        original = UTI_EXTENSIONS[photo.resources[0].uti]
        return f"{stem}-adjusted.{ext}" if ext == original else f"{stem}.{ext}"
    return f"{stem}.{ext}"
