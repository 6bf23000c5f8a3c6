// Hand-off to the seller's shop. Embedded (the floating player of
// embed.js, or any iframe): window.parent.postMessage({source: "vitrine",
// type, product, ...}, origin) with the host page's origin from ?origin=.
// Standalone: window.VitrineCallbacks.onAddToCart / onCheckout /
// onProductClick(product, extra) when the page defines them; otherwise the
// product page opens.
const callbacks = { add_to_cart: 'onAddToCart', checkout: 'onCheckout', product_click: 'onProductClick' };

export function parentOrigin(params) {
  const o = params.get('origin');
  if (!o) return '';
  try {
    const u = new URL(o);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : '';
  } catch {
    return '';
  }
}

export function handoff({ embedded, origin, campaignId, viewerId }, type, product, extra = {}) {
  // viewer_id: the shop passes it back on the order it reports
  // (POST /api/v1/campaigns/{id}/orders), which attributes the sale.
  const msg = { source: 'vitrine', type, campaign_id: campaignId, viewer_id: viewerId || '', product: product || null, ...extra };
  if (embedded) {
    window.parent.postMessage(msg, origin || '*');
    return true;
  }
  const fn = window.VitrineCallbacks?.[callbacks[type]];
  if (typeof fn === 'function') {
    try {
      fn(product, { ...extra, viewer_id: msg.viewer_id });
    } catch (e) {
      console.error('VitrineCallbacks.' + callbacks[type], e);
    }
    return true;
  }
  return false;
}
