"""Drives the original document's MikaAPI example against a running Mika.

Usage: check.py BASE_URL USERNAME PASSWORD CLIP_PATH CATEGORY_ID
Exits non-zero with a message on the first answer that breaks the contract.
"""
import sys

import requests

from mika_api import MikaAPI


def expect(cond, what, got):
    if not cond:
        print(f"FAIL: {what}: {got}")
        sys.exit(1)


def main():
    base, user, password, clip, category = sys.argv[1:6]
    api = MikaAPI(base + "/api")

    bad = api.login(user, "wrong-password")
    expect(bad["code"] == 401, "wrong password answers code 401", bad)

    data = api.login(user, password)
    expect(data["code"] == 0 and data["message"] == "success", "login succeeds", data)
    expect(set(data["data"]) >= {"token", "expire", "user"}, "login answer fields", data)
    expect(set(data["data"]["user"]) >= {"id", "username", "nickname", "avatar"}, "login user fields", data)

    profile = requests.get(base + "/api/user/profile", headers=api._headers()).json()
    expect(profile["code"] == 0 and profile["data"]["username"] == user, "profile", profile)
    for field in ("id", "username", "nickname", "email", "avatar", "vip_level", "vip_expire", "points", "created_at"):
        expect(field in profile["data"], f"profile has {field}", profile)

    up = api.upload_video(clip, "SDK 示例视频", int(category))
    expect(up["code"] == 0, "upload succeeds", up)
    expect(up["data"]["status"] == "pending" and up["data"]["upload_progress"] == 100, "upload answer", up)
    expect(up["data"]["title"] == "SDK 示例视频" and isinstance(up["data"]["id"], int), "upload answer id/title", up)

    videos = api.get_videos()
    expect(videos["code"] == 0, "list succeeds", videos)
    expect(set(videos["data"]) >= {"list", "total", "page", "size"}, "list shape", videos)
    expect(videos["data"]["page"] == 1 and videos["data"]["size"] == 20, "list paging", videos)
    print("sdk example ok")


if __name__ == "__main__":
    main()
