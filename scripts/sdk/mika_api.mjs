// The JavaScript SDK example of Mika's original API document. Only the base
// URL is a parameter here (the document's is a placeholder domain); the rest
// is the document's code as written. check.mjs drives it.
import axios from 'axios';

export function makeSDK(baseURL) {
const api = axios.create({
  baseURL: baseURL,
  timeout: 30000
});
// 请求拦截器
api.interceptors.request.use(config => {
  const token = localStorage.getItem('token');
  if (token) {
    config.headers.Authorization = `Bearer ${token}`;
  }
  return config;
});
// 获取视频列表
async function getVideos(page = 1, size = 20) {
  const response = await api.get('/videos', {
    params: { page, size }
  });
  return response.data;
}
// 上传视频
async function uploadVideo(file, title, categoryId) {
  const formData = new FormData();
  formData.append('file', file);
  formData.append('title', title);
  formData.append('category_id', categoryId);
  const response = await api.post('/videos/upload', formData, {
    headers: { 'Content-Type': 'multipart/form-data' },
    onUploadProgress: (progress) => {
      console.log(`上传进度: ${Math.round(progress.loaded / progress.total * 100)}%`);
    }
  });
  return response.data;
}
return { api, getVideos, uploadVideo };
}
