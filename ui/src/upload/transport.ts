// The browser's upload transport: JSON calls through the API client, chunks
// through XMLHttpRequest so the progress bar moves within a chunk.
import { ApiError, Client } from '../api';
import type { CompleteAnswer, FileLike, InitAnswer, StatusAnswer, UploadMeta, UploadTransport } from './queue';

export function httpTransport(client: Client): UploadTransport {
  return {
    init: (file: FileLike, meta: UploadMeta) =>
      client.post<InitAnswer>('/videos/upload/init', {
        filename: file.name,
        filesize: file.size,
        title: meta.title,
        description: meta.description,
        category_id: meta.category_id || 0,
        tags: meta.tags,
      }),
    status: (id: string) => client.get<StatusAnswer>('/videos/upload/' + encodeURIComponent(id)),
    complete: (id: string) => client.post<CompleteAnswer>('/videos/upload/complete', { upload_id: id }),
    chunk: (id, index, data, onProgress, signal) =>
      new Promise<void>((resolve, reject) => {
        const form = new FormData();
        // The fields go before the file part so the server reads them first.
        form.append('upload_id', id);
        form.append('chunk_index', String(index));
        form.append('chunk', data, 'chunk');
        const xhr = new XMLHttpRequest();
        xhr.open('POST', '/api/videos/upload/chunk');
        const token = client.tokens.get();
        if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token);
        xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
        xhr.onerror = () => reject(new ApiError(0, 'network'));
        xhr.ontimeout = () => reject(new ApiError(0, 'network'));
        xhr.onabort = () => reject(new ApiError(0, 'aborted'));
        xhr.onload = () => {
          const res = new Response(xhr.responseText || null, { status: xhr.status });
          client.parse<unknown>(res, !!token).then(() => resolve(), reject);
        };
        signal.addEventListener('abort', () => xhr.abort());
        xhr.send(form);
      }),
  };
}
