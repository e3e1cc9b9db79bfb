// The REST API from the browser: the sign-in kept for the tab and renewed silently, JSON
// errors as exceptions.

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// Renew the access token this long before it expires (a quarter of its life, at most 60 s).
const renewMargin = (lifeSeconds) => Math.min(60, lifeSeconds / 4) * 1000;

export class Api {
  /** `storageKey`: where this page keeps its sign-in (sessionStorage: one sign-in per tab). */
  constructor(storageKey) {
    this.storageKey = storageKey;
    const saved = JSON.parse(sessionStorage.getItem(storageKey) || "null") || {};
    this.token = saved.token || null;
    this.refreshToken = saved.refreshToken || null;
    this.expiresAt = saved.expiresAt || 0;
    this.life = saved.life || 0;
    this.user = saved.user || null;
    this.onUnauthorized = null;
    this.renewing = null;
    this.renewTimer = null;
    if (this.token) this.scheduleRenewal();
  }

  get loggedIn() {
    return Boolean(this.token);
  }

  /** Keep a sign-in (the body of /login or /refresh) and plan its silent renewal. */
  remember(signedIn) {
    this.token = signedIn.access_token;
    this.refreshToken = signedIn.refresh_token;
    this.life = signedIn.expires_in;
    this.expiresAt = Date.now() + signedIn.expires_in * 1000;
    this.user = signedIn.user;
    const { token, refreshToken, expiresAt, life, user } = this;
    sessionStorage.setItem(this.storageKey, JSON.stringify({ token, refreshToken, expiresAt, life, user }));
    this.scheduleRenewal();
  }

  forget() {
    clearTimeout(this.renewTimer);
    this.token = this.refreshToken = this.user = null;
    sessionStorage.removeItem(this.storageKey);
  }

  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    const wait = Math.max(0, this.expiresAt - renewMargin(this.life) - Date.now());
    this.renewTimer = setTimeout(() => this.renew().catch(() => {}), wait);
  }

  /** A new access token (and the next refresh token) for the refresh token; one at a time,
   * since each refresh token works once. False when the sign-in has ended. */
  renew() {
    if (!this.renewing) {
      this.renewing = this.renewOnce().finally(() => (this.renewing = null));
    }
    return this.renewing;
  }

  async renewOnce() {
    if (!this.refreshToken) return false;
    try {
      const body = await this.request("POST", "/refresh", { json: { refresh_token: this.refreshToken }, auth: false });
      this.remember(body);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.forget();
        if (this.onUnauthorized) this.onUnauthorized(error.message);
        return false;
      }
      this.scheduleRetry();
      throw error;
    }
  }

  scheduleRetry() {
    // The server could not be reached: try again soon, the access token may still be good.
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => this.renew().catch(() => {}), 5000);
  }

  async login(username, password) {
    this.remember(await this.request("POST", "/login", { json: { username, password }, auth: false }));
    return this.user;
  }

  async register(username, password, fullName) {
    const json = { username, password };
    if (fullName) json.full_name = fullName;
    await this.request("POST", "/register", { json, auth: false });
    return this.login(username, password);
  }

  /** Sign out on the server too: this access token and the whole sign-in stop working. */
  async logout() {
    if (this.token) {
      await this.post("/logout", { refresh_token: this.refreshToken }).catch(() => {});
    }
    this.forget();
  }

  /** A single-use ticket to open a WebSocket (no token ever goes into a URL). */
  async ticket() {
    return (await this.post("/api/ws-ticket")).ticket;
  }

  /** The RTCPeerConnection configuration the server wants: its STUN/TURN servers, with
   * TURN credentials minted for us, and whether to relay everything. */
  async rtcConfiguration() {
    const config = await this.get("/api/ice-servers");
    const iceServers = config.ice_servers.map(({ urls, username, credential }) =>
      username ? { urls, username, credential } : { urls },
    );
    return { iceServers, iceTransportPolicy: config.ice_transport_policy };
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, json) {
    return this.request("POST", path, { json: json ?? {} });
  }

  put(path, json) {
    return this.request("PUT", path, { json });
  }

  patch(path, json) {
    return this.request("PATCH", path, { json });
  }

  /** A binary resource (thumbnail, evidence) as a Blob; null when it does not exist (404). */
  async blob(path) {
    try {
      return await this.request("GET", path, { as: "blob" });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  async request(method, path, options = {}) {
    const { auth = true } = options;
    // A token about to expire (a laptop woke up, a timer ran late) is renewed first.
    if (auth && this.token && this.refreshToken && Date.now() > this.expiresAt - 2000) await this.renew().catch(() => {});
    try {
      return await this.send(method, path, options);
    } catch (error) {
      // Expired or revoked on the way: renew once and try again; a second 401 is final.
      if (!(error instanceof ApiError && error.status === 401 && auth && this.refreshToken)) throw error;
      if (!(await this.renew())) throw error;
      return this.send(method, path, options, true);
    }
  }

  async send(method, path, { json, body, headers = {}, auth = true, as = "json" } = {}, final = false) {
    const init = { method, headers: { ...headers } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    } else if (body !== undefined) {
      init.body = body;
    }
    if (auth && this.token) init.headers.Authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached. Check your connection.");
    }
    if (!response.ok) {
      let code = "http_error";
      let message = `${response.status} ${response.statusText}`;
      let details = {};
      try {
        const error = (await response.json()).error;
        ({ code, message } = error);
        details = error;
      } catch {
        // not JSON: keep the status line
      }
      const signedOut = response.status === 401 && auth && (final || !this.refreshToken);
      if (signedOut && this.onUnauthorized) this.onUnauthorized(message);
      throw new ApiError(response.status, code, message, details);
    }
    if (as === "blob") return response.blob();
    if (response.status === 204) return null;
    return response.json();
  }
}
