# The Python SDK example of Mika's original API document, copied unmodified.
# scripts/sdk/check.py drives it against a running server.
import requests
class MikaAPI:
    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.token = token
    def _headers(self):
        headers = {'Content-Type': 'application/json'}
        if self.token:
            headers['Authorization'] = f'Bearer {self.token}'
        return headers
    def login(self, username, password):
        response = requests.post(
            f'{self.base_url}/auth/login',
            json={'username': username, 'password': password}
        )
        data = response.json()
        if data['code'] == 0:
            self.token = data['data']['token']
        return data
    def get_videos(self, page=1, size=20):
        response = requests.get(
            f'{self.base_url}/videos',
            params={'page': page, 'size': size},
            headers=self._headers()
        )
        return response.json()
    def upload_video(self, file_path, title, category_id):
        with open(file_path, 'rb') as f:
            files = {'file': f}
            data = {'title': title, 'category_id': category_id}
            response = requests.post(
                f'{self.base_url}/videos/upload',
                files=files,
                data=data,
                headers={'Authorization': f'Bearer {self.token}'}
            )
        return response.json()
