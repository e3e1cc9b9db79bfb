// The REST API from the browser: bearer token kept for the tab, JSON errors as exceptions.

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class Api {
  /** `storageKey`: where this page keeps its token (sessionStorage: one login per tab). */
  constructor(storageKey) {
    this.storageKey = storageKey;
    const saved = sessionStorage.getItem(storageKey);
    this.token = saved ? JSON.parse(saved).token : null;
    this.user = saved ? JSON.parse(saved).user : null;
    this.onUnauthorized = null;
  }

  get loggedIn() {
    return Boolean(this.token);
  }

  remember(token, user) {
    this.token = token;
    this.user = user;
    sessionStorage.setItem(this.storageKey, JSON.stringify({ token, user }));
  }

  forget() {
    this.token = null;
    this.user = null;
    sessionStorage.removeItem(this.storageKey);
  }

  async login(username, password) {
    const body = await this.request("POST", "/login", { json: { username, password }, auth: false });
    this.remember(body.access_token, body.user);
    return body.user;
  }

  async register(username, password, fullName) {
    const json = { username, password };
    if (fullName) json.full_name = fullName;
    await this.request("POST", "/register", { json, auth: false });
    return this.login(username, password);
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

  async request(method, path, { json, body, headers = {}, auth = true, as = "json" } = {}) {
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
      if (response.status === 401 && auth && this.onUnauthorized) this.onUnauthorized(message);
      throw new ApiError(response.status, code, message, details);
    }
    if (as === "blob") return response.blob();
    if (response.status === 204) return null;
    return response.json();
  }
}
