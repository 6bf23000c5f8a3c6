import { useState } from 'preact/hooks';
import { api } from './api.js';
import { useID } from './ui.jsx';

// ImagePicker uploads images (POST /api/v1/images) and keeps their ids in
// display order: previews, move earlier or later, remove.
export function ImagePicker({ images, urls, onChange, error }) {
  const [busy, setBusy] = useState(false);
  const [uploadError, setUploadError] = useState('');
  const id = useID('images');
  const upload = async (e) => {
    const files = [...e.currentTarget.files];
    e.currentTarget.value = '';
    setBusy(true);
    setUploadError('');
    let ids = [...images];
    const u = { ...urls };
    try {
      for (const f of files) {
        const img = await api('POST', '/images', new Blob([f], { type: f.type || 'application/octet-stream' }));
        ids.push(img.id);
        u[img.id] = img.url;
      }
    } catch (err) {
      setUploadError(err.message);
    } finally {
      setBusy(false);
      onChange(ids, u);
    }
  };
  const move = (i, d) => {
    const ids = [...images];
    [ids[i], ids[i + d]] = [ids[i + d], ids[i]];
    onChange(ids, urls);
  };
  return (
    <div class="field images">
      <label for={id}>Images</label>
      <input id={id} type="file" accept="image/jpeg,image/png,image/webp,image/gif" multiple onChange={upload} disabled={busy} aria-describedby={id + '-hint'} />
      <p class="hint" id={id + '-hint'}>
        JPEG, PNG, WebP or GIF, 5 MB at most each. The first is the cover. {busy ? 'Uploading…' : ''}
      </p>
      {(uploadError || error) && <p class="error" role="alert">{uploadError || error}</p>}
      {images.length > 0 && (
        <ol class="thumbs">
          {images.map((im, i) => (
            <li key={im}>
              <img src={urls[im] || `/media/images/${im}`} alt={`Image ${i + 1}${i === 0 ? ' (cover)' : ''}`} width={96} height={96} />
              <div class="thumb-actions">
                <button type="button" class="small secondary" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`Move image ${i + 1} earlier`}>←</button>
                <button type="button" class="small secondary" disabled={i === images.length - 1} onClick={() => move(i, 1)} aria-label={`Move image ${i + 1} later`}>→</button>
                <button type="button" class="small danger-outline" onClick={() => onChange(images.filter((x) => x !== im), urls)} aria-label={`Remove image ${i + 1}`}>Remove</button>
              </div>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
